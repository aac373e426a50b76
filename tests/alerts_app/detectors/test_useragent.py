"""The detectors' own user-agent reader."""

import pytest

from alerts_app.detectors.useragent import is_programmatic_client, parse_user_agent, same_client

from .factories import CHROME_130_WIN, CHROME_131_WIN, FIREFOX_MAC, HEADLESS, SAFARI_IOS

EDGE_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
POWERSHELL = "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.4.0"


@pytest.mark.parametrize(
    ("ua", "label", "os"),
    [
        (CHROME_131_WIN, "Chrome 131 on Windows", "Windows"),
        (EDGE_MAC, "Edge 131 on macOS", "macOS"),
        (FIREFOX_MAC, "Firefox 121 on macOS", "macOS"),
        (SAFARI_IOS, "Safari 17 on iOS", "iOS"),
        (ANDROID_CHROME, "Chrome 131 on Android", "Android"),
    ],
)
def test_browsers(ua, label, os):
    agent = parse_user_agent(ua)
    assert (agent.label, agent.os, agent.programmatic, agent.is_browser) == (label, os, False, True)


@pytest.mark.parametrize(
    ("ua", "family"),
    [
        ("curl/8.1.2", "curl"),
        ("python-requests/2.31.0", "python-requests"),
        ("Go-http-client/2.0", "Go-http-client"),
        ("okhttp/4.9.3", "okhttp"),
        (POWERSHELL, "PowerShell"),
        (HEADLESS, "HeadlessChrome"),
        ("Python/3.11 aiohttp/3.9.1", "aiohttp"),
        ("axios/1.6.0", "axios"),
        ("Java/17.0.2", "Java"),
        ("Wget/1.21.4", "Wget"),
        ("node", "node"),
    ],
)
def test_programmatic_clients(ua, family):
    agent = parse_user_agent(ua)
    assert (agent.family, agent.programmatic) == (family, True)
    assert is_programmatic_client(ua)


def test_tool_label_keeps_its_version():
    assert parse_user_agent("curl/8.1.2").label == "curl/8.1"


def test_browser_update_is_the_same_client():
    assert same_client(CHROME_130_WIN, CHROME_131_WIN) is True
    assert same_client(CHROME_131_WIN, FIREFOX_MAC) is False
    assert same_client(CHROME_131_WIN, ANDROID_CHROME) is False  # same browser, other OS


def test_unknown_strings():
    assert same_client("", CHROME_131_WIN) is None
    assert same_client("Okta-Integrations", CHROME_131_WIN) is None
    assert not is_programmatic_client("")
    assert parse_user_agent("").label == "unknown client"
