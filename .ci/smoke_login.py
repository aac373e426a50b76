"""Log into a running govern as each demo role and fetch the home page (CI smoke check)."""

import re
import sys

import requests

base = sys.argv[1].rstrip("/")
for username, password in (
    ("analyst", "analyst-demo-pass"),
    ("manager", "manager-demo-pass"),
    ("admin", "admin-demo-pass"),
):
    with requests.Session() as http:
        page = http.get(f"{base}/login/", timeout=30)
        page.raise_for_status()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = http.post(
            f"{base}/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/login/"},
            timeout=30,
        )
        response.raise_for_status()
        home = http.get(f"{base}/", timeout=60)
        assert home.status_code == 200 and "Overview" in home.text, (username, home.status_code)
        identities = re.search(r'data-testid="identities-total">([\d,]+)<', home.text).group(1)
        assert int(identities.replace(",", "")) >= 500, f"{username}: {identities} identities"
        print(f"{username}: home page OK, {identities} identities")
