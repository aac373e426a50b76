"""Devices and the user agents they send, with browser versions that move with the calendar.

Browsers ship a new major every four weeks; each device picks the update up a few days late,
so a 30-day window shows the realistic drift (Chrome 131 → 132) that fuzzy UA matching has
to tolerate, while a session's UA never changes to a different browser or OS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Release anchors: (date of a known stable release, its major version).
_CHROME_ANCHOR = (date(2023, 12, 5), 120)
_FIREFOX_ANCHOR = (date(2023, 12, 19), 121)
_SAFARI_ANCHOR = date(2023, 9, 18)  # Safari 17.0 / iOS 17.0

# Okta's client.userAgent.os / .browser and Entra's deviceDetail spellings, per platform.
PLATFORMS = {
    "windows": {"okta_os": "Windows 10", "entra_os": "Windows10", "device": "Computer"},
    "mac": {"okta_os": "Mac OS X", "entra_os": "MacOs", "device": "Computer"},
    "ios": {"okta_os": "iOS", "entra_os": "Ios", "device": "Mobile"},
    "android": {"okta_os": "Android", "entra_os": "Android", "device": "Mobile"},
    "linux": {"okta_os": "Linux", "entra_os": "Linux", "device": "Unknown"},
}


def chrome_major(day: date) -> int:
    anchor, major = _CHROME_ANCHOR
    return major + (day - anchor).days // 28


def firefox_major(day: date) -> int:
    anchor, major = _FIREFOX_ANCHOR
    return major + (day - anchor).days // 28


def safari_version(day: date) -> tuple[int, int]:
    days = (day - _SAFARI_ANCHOR).days
    return 17 + days // 365, min((days % 365) // 60, 6)


@dataclass(frozen=True, slots=True)
class UserAgent:
    raw: str
    browser: str  # Okta enum spelling: CHROME, EDGE, SAFARI, FIREFOX, UNKNOWN
    platform: str  # key of PLATFORMS
    entra_browser: str  # deviceDetail.browser, e.g. "Chrome 131.0.0"
    app: str = ""  # native app name for mobile clients

    @property
    def okta_os(self) -> str:
        return PLATFORMS[self.platform]["okta_os"]

    @property
    def entra_os(self) -> str:
        return PLATFORMS[self.platform]["entra_os"]

    @property
    def device_class(self) -> str:
        return PLATFORMS[self.platform]["device"]


def browser_agent(browser: str, platform: str, day: date, lag_days: int) -> UserAgent:
    """The UA a desktop browser sends on ``day`` when it updates ``lag_days`` after release."""
    seen = day - timedelta(days=lag_days)
    if platform == "windows":
        system = "Windows NT 10.0; Win64; x64"
    else:
        system = "Macintosh; Intel Mac OS X 10_15_7"
    if browser == "FIREFOX":
        v = firefox_major(seen)
        ff_system = (
            "Windows NT 10.0; Win64; x64"
            if platform == "windows"
            else ("Macintosh; Intel Mac OS X 10.15")
        )
        raw = f"Mozilla/5.0 ({ff_system}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
        return UserAgent(raw, browser, platform, f"Firefox {v}.0")
    if browser == "SAFARI":
        major, minor = safari_version(seen)
        raw = (
            f"Mozilla/5.0 ({system}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            f"Version/{major}.{minor} Safari/605.1.15"
        )
        return UserAgent(raw, browser, platform, f"Safari {major}.{minor}")
    v = chrome_major(seen)
    raw = (
        f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{v}.0.0.0 Safari/537.36"
    )
    if browser == "EDGE":
        build = 2200 + (v - 120) * 65
        raw += f" Edg/{v}.0.{build}.{40 + (seen.toordinal() % 7) * 3}"
        return UserAgent(raw, browser, platform, f"Edge {v}.0.{build}")
    return UserAgent(raw, "CHROME", platform, f"Chrome {v}.0.0")


def mobile_agent(platform: str, day: date, lag_days: int) -> UserAgent:
    """Mobile Outlook, the app people read mail with on the go (non-interactive refreshes)."""
    seen = day - timedelta(days=lag_days)
    week = (seen.toordinal() // 7) % 100
    if platform == "ios":
        major, minor = safari_version(seen)
        raw = f"Outlook-iOS/709.{2189000 + week * 131}.prod.iphone (4.{2400 + week}.0)"
        return UserAgent(raw, "UNKNOWN", platform, f"Mobile Safari {major}.{minor}", "Outlook")
    raw = f"Outlook-Android/2.2.{250 + week} (Linux; Android 14)"
    return UserAgent(raw, "UNKNOWN", platform, "Rich Client 4.61.0", "Outlook")


# Machine clients: what SDKs and runtimes send. Attack tooling is listed separately so that
# benign traffic never uses it.
MACHINE_AGENTS = {
    "okta-sdk-python": "okta-sdk-python/2.9.8 python/3.11.9 Linux/6.1.0-21-cloud-amd64",
    "okta-sdk-java": "okta-sdk-java/16.0.0 java/17.0.11 Linux/5.15.0-1064-aws",
    "okta-terraform": "Terraform/1.8.5 terraform-provider-okta/4.9.1 okta-sdk-golang/2.20.0",
    "azure-identity": "azsdk-python-identity/1.16.1 Python/3.11.9 (Linux-5.15.0-1068-azure)",
    "msal-dotnet": "MSAL.NetCore/4.61.3 (.NET 8.0.6; Linux)",
    "msal-python": "MSAL.Python/1.28.1 Python/3.11.9 (Linux)",
    "azure-cli": "python/3.11.8 (Linux-5.15.0-1064-azure) AZURECLI/2.61.0",
    "go-workload": "Go-http-client/2.0",
    "agent-runtime": "openai-agents-python/0.0.19 httpx/0.27.0",
    "semantic-kernel": "Semantic-Kernel/1.14.1 (dotnet; Linux)",
}

ATTACK_AGENTS = {
    "python-requests": "python-requests/2.32.3",
    "curl": "curl/8.7.1",
}


def machine_agent(raw: str) -> UserAgent:
    """A UA for a headless client (SDK, CLI, script)."""
    return UserAgent(raw, "UNKNOWN", "linux", "")
