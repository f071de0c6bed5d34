"""What calls mean to the code rules: exec sinks, decoders, processes, network calls, credential stores.

Names are the dotted names the analyser resolves calls to (through imports, `__import__`, getattr and
assignments); the tables are read by the analyser (`analysis.py`) and the rules (`code_findings.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ahocorasick_rs import BytesAhoCorasick, Implementation

EXEC_SINKS = frozenset({"exec", "eval", "compile", "types.FunctionType", "execfile", "pickle.loads"})
DECODERS = frozenset(
    {
        *(
            f"base64.{n}"
            for n in [
                "b64decode",
                "b32decode",
                "b32hexdecode",
                "b16decode",
                "b85decode",
                "a85decode",
                "decodebytes",
                "decodestring",
                "urlsafe_b64decode",
                "standard_b64decode",
            ]
        ),
        "binascii.a2b_base64",
        "binascii.unhexlify",
        "binascii.a2b_hex",
        "binascii.a2b_uu",
        "zlib.decompress",
        "gzip.decompress",
        "lzma.decompress",
        "bz2.decompress",
        "marshal.loads",
        "codecs.decode",
        "bytes.fromhex",
        "bytearray.fromhex",
    }
)
ENCODERS = frozenset(
    {"base64.b64encode", "base64.urlsafe_b64encode", "base64.b32encode", "base64.b16encode"}
    | {"base64.b85encode", "binascii.hexlify", "binascii.b2a_base64", "zlib.compress"}
)
_CODEC_NAMES = frozenset({"rot13", "rot_13", "hex", "hex_codec", "base64", "base_64", "zlib", "bz2", "uu"})
PROCESS_CALLS = frozenset(
    {
        *(
            f"subprocess.{n}"
            for n in ["Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"]
        ),
        "os.system",
        "os.popen",
        "os.posix_spawn",
        "os.posix_spawnp",
        "os.startfile",
        "pty.spawn",
        "commands.getoutput",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
    }
)
_PROCESS_PREFIXES = ("os.exec", "os.spawn")
NETWORK_CALLS = frozenset(
    {
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "urllib.urlopen",
        "urllib.urlretrieve",
        "urllib2.urlopen",
        *(
            f"{m}.{v}"
            for m in ("requests", "httpx")
            for v in ["get", "post", "put", "patch", "delete", "head", "request", "stream"]
        ),
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
        "httplib.HTTPConnection",
        "httplib.HTTPSConnection",
        "socket.socket",
        "socket.create_connection",
        "socket.gethostbyname",
        "smtplib.SMTP",
        "smtplib.SMTP_SSL",
        "ftplib.FTP",
        "telnetlib.Telnet",
        "urllib3.request",
        "dns.resolver.resolve",
        "dns.resolver.query",
    }
)
_SENDING = (
    ".post",
    ".put",
    ".patch",
    "socket.socket",
    "socket.create_connection",
    "smtplib.SMTP",
    "SMTP_SSL",
)
_FETCH_METHODS = frozenset({"read", "recv", "json", "iter_content", "readlines", "content", "text"})
_WRITE_MODES = re.compile(r"[wax]")
# Literals in a command line that mark a payload launcher rather than a build or version step.
_SUSPICIOUS_COMMAND = re.compile(
    r"\b(curl|wget|powershell|certutil|bitsadmin|mshta|nc|ncat|base64\s+-d)\b|https?://|/dev/tcp/|\|\s*(ba)?sh\b"
    r"|(^|\s)-c(\s|$)|\bsh\s+-c\b",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(?:https?|ftp|wss?)://([A-Za-z0-9.\-_\[\]:]+)")
_IPV4 = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?$")
_LOOPBACK = ("127.", "localhost", "0.0.0.0", "[::1]")  # noqa: S104 - compared against, never bound

CREDENTIAL_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "ssh": re.compile(r"(^|[/\\~])\.ssh([/\\]|$)|\bid_(rsa|dsa|ecdsa|ed25519)\b"),
    "aws": re.compile(r"\.aws[/\\](credentials|config)|^\.aws$"),
    "kube": re.compile(r"\.kube[/\\]config|^\.kube$"),
    "gcloud": re.compile(r"\.config[/\\]gcloud|application_default_credentials\.json|^gcloud$"),
    "azure": re.compile(r"(^|[/\\~])\.azure([/\\]|$)"),
    "dotenv": re.compile(r"(^|[/\\~])\.env$"),
    "git-credentials": re.compile(r"\.git-credentials"),
    "pypirc": re.compile(r"\.pypirc"),
    "netrc": re.compile(r"(^|[/\\~])[._]netrc$"),
    "docker": re.compile(r"\.docker[/\\]config\.json"),
    "browser": re.compile(
        r"Login Data|Web Data|Local State|User Data[/\\]|Google[/\\]Chrome|BraveSoftware|Mozilla[/\\]Firefox"
        r"|Firefox[/\\]Profiles|cookies\.sqlite|logins\.json|key4\.db"
    ),
    "wallet": re.compile(
        r"wallet\.dat|(^|[/\\])(Exodus|Electrum|MetaMask|Atomic)([/\\]|$)|nkbihfbeogaeaoehlefnkodbefgpgknn"
        r"|exodus\.wallet|[/\\]\.?(bitcoin|electrum|ethereum)[/\\]"
    ),
    "discord": re.compile(r"discord(canary|ptb)?[/\\]Local Storage|Local Storage[/\\]leveldb"),
    "telegram": re.compile(r"Telegram Desktop[/\\]tdata|(^|[/\\])tdata([/\\]|$)"),
}

_ANY_CREDENTIAL = re.compile("|".join(f"(?:{p.pattern})" for p in CREDENTIAL_PATTERNS.values()))
"""One search per literal; the per-category patterns only run on the few that match."""

_READERS = frozenset(
    {"open", "io.open", "codecs.open", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree"}
    | {"sqlite3.connect", "zipfile.ZipFile.write", "tarfile.open"}
)
MIN_PAYLOAD = 16
_KEYED_METHODS = frozenset({"get", "pop", "setdefault", "encode", "decode"})
"""Shorter literals are codec names, separators and keys, not payloads."""
_FILE_READS = frozenset({"read", "read_bytes", "read_text", "readlines"})
_TRACKED = EXEC_SINKS | DECODERS | PROCESS_CALLS | NETWORK_CALLS
_TRACKED_MODULES = frozenset(q.rsplit(".", i)[0] for q in _TRACKED for i in range(1, q.count(".") + 1)) | {
    *("os", "builtins", "__builtins__", "__builtin__")
}


def _tracked(target: str) -> bool:
    """Whether a name bound to `target` can reach a tracked call: the call itself, or its module."""
    return target in _TRACKED or target in _TRACKED_MODULES or target.startswith(_PROCESS_PREFIXES)


# Where stolen data goes: services that take anything sent to them and show it to whoever holds the
# address, with no account of the victim's involved. No library hard-codes one of these: request
# catchers and out-of-band interaction hosts, tunnels to a laptop, chat webhooks whose URL carries
# their secret, paste and mock-API services.
_CATCHER_HOSTS = (
    r"oastify\.com|oast\.(?:fun|pro|live|site|online|me)|interact\.sh|burpcollaborator\.net|pipedream\.net"
    r"|webhook\.site|requestbin\.(?:net|com)|requestcatcher\.com|requestinspector\.com|beeceptor\.com"
    r"|hookbin\.com|canarytokens\.com|dnslog\.cn|ceye\.io|ngrok(?:-free)?\.(?:io|app|dev)|trycloudflare\.com"
    r"|serveo\.net|localhost\.run|loca\.lt"
)
_PASTE_HOSTS = (
    r"pastebin\.com|paste\.ee|hastebin\.com|rentry\.co|mockapi\.io|mocky\.io|jsonbin\.io|transfer\.sh"
)
_CHANNEL = re.compile(
    r"(?:^|[/.@])(?:" + _CATCHER_HOSTS + "|" + _PASTE_HOSTS + r")(?:[/:'\"]|$)"
    r"|discord(?:app)?\.com/api/webhooks/\d+/"
    r"|hooks\.slack\.com/services/T\w+/"
    r"|api\.telegram\.org/bot\d+:",
    re.IGNORECASE,
)
_BOT_TOKEN = re.compile(r"^\d{8,12}:[\w-]{30,}$")
"""A Telegram bot token: a chat channel's secret, meaningless anywhere but in the attacker's URL."""


def exfil_channel(text: str) -> str | None:
    """The channel a literal names (a request catcher, a webhook with its secret, a paste service)."""
    m = _CHANNEL.search(text)
    if m is not None:
        return m.group(0).strip("/.@'\":")
    return "telegram bot token" if _BOT_TOKEN.match(text) else None


_CHANNEL_BYTES = re.compile(_CHANNEL.pattern.encode(), re.IGNORECASE)
_CHANNEL_WORDS = BytesAhoCorasick(
    [
        *(b"oast", b"interact.sh", b"burpcollaborator", b"pipedream", b"webhook", b"requestbin"),
        *(b"requestcatcher", b"requestinspector", b"beeceptor", b"hookbin", b"canarytokens"),
        *(b"dnslog", b"ceye.io", b"ngrok", b"trycloudflare", b"serveo", b"localhost.run", b"loca.lt"),
        *(b"paste", b"hastebin", b"rentry", b"mockapi", b"mocky", b"jsonbin", b"transfer.sh"),
        *(b"slack.com", b"telegram"),
    ],
    implementation=Implementation.DFA,
)
"""Words one of which every channel URL holds (lower case, as hosts are written): one fast pass
before the regex, which only runs on the few files that hold one."""


def names_channel(source: bytes) -> bool:
    """Whether a file's bytes name an exfiltration channel URL anywhere (before any parsing)."""
    if b"://" not in source or not _CHANNEL_WORDS.find_matches_as_indexes(source):
        return False
    return _CHANNEL_BYTES.search(source) is not None


PERSISTENCE = re.compile(
    r"(?i:programs[\\/]+startup|shell:(?:common )?startup|currentversion[\\/]+run(?:once)?(?![a-z])"
    r"|\.config[\\/]+autostart|library[\\/]+launch(?:agents|daemons)|/etc/cron)"
    r"|(?<![A-Za-z_])(?:crontab|schtasks)(?![A-Za-z_])"
)
"""Where a program is placed so that the system starts it at login or boot: what a dropper does
to survive a reboot, and nothing a library does. (`crontab` and `schtasks` as the commands they
are, not inside a name such as `CrontabSpec`.)"""

PLACING_PREFIXES = ("shutil.", "winreg.", "_winreg.", "os.rename", "os.replace", "os.symlink", "os.link")
PLACING_SUFFIXES = (".write_text", ".write_bytes", ".copy", ".copyfile", ".rename", ".replace", ".symlink_to")
"""Calls that put a file or a registry value somewhere (with writes, and commands run)."""
