"""A small, dependency-free user-agent reader for the detectors.

Detectors only need three things from a user agent: the client family (Chrome, curl, …) with
its major version, the operating system family, and whether the client is a program rather
than a person's browser. Versions are kept for summaries but never compared: browsers update
themselves (Chrome 130 → 131) mid-session, which public rules treat as noise (Panther's Okta
stolen-session rule fuzzy-matches UAs for exactly this reason; see
../shared/research/detection.md §0.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Programmatic clients, matched case-insensitively at a token boundary. The list follows the
# public replay rules (Elastic "Okta AiTM Session Cookie Replay": python-requests, curl,
# httpx, aiohttp, Go-http-client, Headless, Java/, okhttp; Elastic Tycoon2FA rule: node,
# axios, undici) plus common shells and download tools. Order matters only for naming:
# the first pattern that matches names the family.
_PROGRAMMATIC: tuple[tuple[str, str], ...] = (
    ("HeadlessChrome", r"headlesschrome/"),
    ("PhantomJS", r"phantomjs"),
    ("curl", r"(?:^|[\s(])curl/"),
    ("Wget", r"(?:^|[\s(])wget/"),
    ("python-requests", r"python-requests/"),
    ("python-httpx", r"python-httpx/|(?:^|\s)httpx/"),
    ("aiohttp", r"aiohttp/"),
    ("python-urllib", r"python-urllib/"),
    ("Go-http-client", r"go-http-client/"),
    ("okhttp", r"okhttp/"),
    ("axios", r"axios/"),
    ("undici", r"undici"),
    ("node-fetch", r"node-fetch/"),
    ("node", r"^node(?:/|$)"),
    ("PowerShell", r"windowspowershell/|powershell/"),
    ("Apache-HttpClient", r"apache-httpclient/"),
    ("Java", r"(?:^|\s)java/"),
    ("libwww-perl", r"libwww-perl/"),
    ("Ruby", r"^ruby(?:/|$)|faraday v"),
    ("PostmanRuntime", r"postmanruntime/"),
    ("Scrapy", r"scrapy/"),
    ("Headless", r"headless"),
)
_PROGRAMMATIC_RE = tuple((name, re.compile(rx, re.IGNORECASE)) for name, rx in _PROGRAMMATIC)

# Browsers, most specific first: Edge, Opera and Samsung all also claim "Chrome/", and Chrome
# also claims "Safari/".
_BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edge", r"(?:Edg|EdgA|EdgiOS|Edge)/(\d+)"),
    ("Opera", r"(?:OPR|Opera)/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/"),
)
_BROWSERS_RE = tuple((name, re.compile(rx)) for name, rx in _BROWSERS)

# Operating systems, iOS and Android before macOS and Linux because their UAs contain
# "like Mac OS X" and "Linux" respectively.
_OS: tuple[tuple[str, str], ...] = (
    ("iOS", r"iPhone|iPad|iPod|CPU OS \d|iOS"),
    ("Android", r"Android"),
    ("ChromeOS", r"CrOS"),
    ("Windows", r"Windows|Win64|WinNT"),
    ("macOS", r"Macintosh|Mac OS X|Darwin"),
    ("Linux", r"Linux|X11"),
)
_OS_RE = tuple((name, re.compile(rx)) for name, rx in _OS)

_VERSION_AFTER_SLASH = re.compile(r"/\s*v?(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class UserAgent:
    """What the detectors know about one user-agent string."""

    raw: str
    family: str  # "Chrome", "curl", … ; "" when the string is empty or unrecognised
    version: str  # "131" for browsers (major only), "8.1" for tools; "" when unknown
    os: str  # "Windows", "macOS", "iOS", "Android", "ChromeOS", "Linux" or ""
    programmatic: bool

    @property
    def is_browser(self) -> bool:
        """A recognised interactive browser (not a headless or scripted one)."""
        return bool(self.family) and not self.programmatic

    @property
    def major(self) -> int | None:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else None

    @property
    def client_key(self) -> tuple[str, str]:
        """Version-free identity of the client: (family, OS). Equal across auto-updates."""
        return (self.family, self.os)

    @property
    def known(self) -> bool:
        return bool(self.family)

    @property
    def label(self) -> str:
        """Human label: "Chrome 131 on Windows", "curl/8.1", or the raw string if unknown."""
        if self.programmatic:
            return f"{self.family}/{self.version}" if self.version else self.family
        if self.family:
            name = f"{self.family} {self.version}".strip()
            return f"{name} on {self.os}" if self.os else name
        return self.raw[:80] if self.raw else "unknown client"


@lru_cache(maxsize=4096)
def parse_user_agent(ua: str) -> UserAgent:
    """Read family, version, OS and programmatic-ness from a raw user-agent string."""
    raw = (ua or "").strip()
    if not raw:
        return UserAgent(raw="", family="", version="", os="", programmatic=False)
    os_name = next((name for name, rx in _OS_RE if rx.search(raw)), "")
    for name, rx in _PROGRAMMATIC_RE:
        match = rx.search(raw)
        if match:
            version = _VERSION_AFTER_SLASH.search(raw, match.start())
            return UserAgent(
                raw=raw,
                family=name,
                version=version.group(1) if version else "",
                os=os_name,
                programmatic=True,
            )
    for name, rx in _BROWSERS_RE:
        match = rx.search(raw)
        if match:
            return UserAgent(
                raw=raw, family=name, version=match.group(1), os=os_name, programmatic=False
            )
    return UserAgent(raw=raw, family="", version="", os=os_name, programmatic=False)


def is_programmatic_client(ua: str) -> bool:
    """True for scripts, SDKs and headless browsers (curl, python-requests, HeadlessChrome…)."""
    return parse_user_agent(ua).programmatic


def same_client(a: str, b: str) -> bool | None:
    """Whether two UAs are the same client, ignoring version; None if either is unknown."""
    left, right = parse_user_agent(a), parse_user_agent(b)
    if not left.known or not right.known:
        return None
    return left.client_key == right.client_key
