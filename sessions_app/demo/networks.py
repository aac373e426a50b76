"""A small table of realistic networks the demo organisation's traffic comes from.

Each network is an autonomous system seen from one city: the prefixes are ranges the AS
really announces, the coordinates are the city's, so ASN, AS org, geo and IP agree the way
an IdP's enrichment would show them. ``kind`` says what the network is used for in the demo.
"""

from __future__ import annotations

import ipaddress
import math
import random
from dataclasses import dataclass

OFFICE = "office"
HOME = "home"
MOBILE = "mobile"
CLOUD = "cloud"
VPN = "vpn"  # corporate VPN / zero-trust egress: not an anonymiser
RELAY = "relay"  # iCloud Private Relay, consumer VPNs: anonymisers
HOSTING = "hosting"  # bulletproof-ish hosting favoured by attackers


@dataclass(frozen=True, slots=True)
class Network:
    """One AS as seen from one city, with everything an IdP would enrich an IP with."""

    key: str
    asn: int
    as_org: str
    domain: str
    kind: str
    city: str
    state: str
    country: str  # ISO 3166-1 alpha-2
    country_name: str  # Okta reports the country by name
    postal_code: str
    lat: float
    lon: float
    tz: str
    prefixes: tuple[str, ...]
    anonymizer: bool = False
    operator: str = ""  # anonymiser operator as Okta names it (APPLE_ICLOUD_RELAY, NORD_VPN)

    def address(self, rng: random.Random) -> str:
        """A host address inside one of this network's prefixes."""
        net = ipaddress.IPv4Network(rng.choice(self.prefixes))
        return str(net.network_address + rng.randrange(2, net.num_addresses - 2))


def _n(
    key,
    asn,
    org,
    domain,
    kind,
    city,
    state,
    cc,
    country,
    postal,
    lat,
    lon,
    tz,
    *prefixes,
    anonymizer=False,
    operator="",
):
    return Network(
        key,
        asn,
        org,
        domain,
        kind,
        city,
        state,
        cc,
        country,
        postal,
        lat,
        lon,
        tz,
        tuple(prefixes),
        anonymizer,
        operator,
    )


_BERLIN = ("Berlin", "Land Berlin", "DE", "Germany", "10117", 52.5200, 13.4050, "Europe/Berlin")
_LONDON = ("London", "England", "GB", "United Kingdom", "EC2A", 51.5074, -0.1278, "Europe/London")
_NEW_YORK = (
    "New York",
    "New York",
    "US",
    "United States",
    "10001",
    40.7128,
    -74.0060,
    "America/New_York",
)
_SAN_FRANCISCO = (
    "San Francisco",
    "California",
    "US",
    "United States",
    "94105",
    37.7749,
    -122.4194,
    "America/Los_Angeles",
)
_TOKYO = ("Tokyo", "Tokyo", "JP", "Japan", "100-0005", 35.6762, 139.6503, "Asia/Tokyo")
_SINGAPORE = (
    "Singapore",
    "Singapore",
    "SG",
    "Singapore",
    "018956",
    1.2903,
    103.8520,
    "Asia/Singapore",
)
_ASHBURN = (
    "Ashburn",
    "Virginia",
    "US",
    "United States",
    "20147",
    39.0438,
    -77.4874,
    "America/New_York",
)
_DUBLIN = ("Dublin", "Leinster", "IE", "Ireland", "D02", 53.3498, -6.2603, "Europe/Dublin")
_FRANKFURT = (
    "Frankfurt am Main",
    "Hesse",
    "DE",
    "Germany",
    "60313",
    50.1109,
    8.6821,
    "Europe/Berlin",
)
_AMSTERDAM = (
    "Amsterdam",
    "North Holland",
    "NL",
    "Netherlands",
    "1012",
    52.3676,
    4.9041,
    "Europe/Amsterdam",
)
_BOYDTON = (
    "Boydton",
    "Virginia",
    "US",
    "United States",
    "23917",
    36.6676,
    -78.3875,
    "America/New_York",
)
_COUNCIL_BLUFFS = (
    "Council Bluffs",
    "Iowa",
    "US",
    "United States",
    "51501",
    41.2619,
    -95.8608,
    "America/Chicago",
)
_BUCHAREST = (
    "Bucharest",
    "Bucuresti",
    "RO",
    "Romania",
    "010011",
    44.4268,
    26.1025,
    "Europe/Bucharest",
)
_ROUBAIX = ("Roubaix", "Hauts-de-France", "FR", "France", "59100", 50.6942, 3.1746, "Europe/Paris")

NETWORKS: dict[str, Network] = {
    n.key: n
    for n in (
        # --- offices and home broadband in the five home cities
        _n(
            "berlin-office",
            3320,
            "Deutsche Telekom AG",
            "telekom.de",
            OFFICE,
            *_BERLIN,
            "217.6.0.0/16",
        ),
        _n(
            "berlin-home",
            3320,
            "Deutsche Telekom AG",
            "t-ipconnect.de",
            HOME,
            *_BERLIN,
            "87.150.0.0/15",
            "91.8.0.0/14",
        ),
        _n(
            "berlin-mobile", 3209, "Vodafone GmbH", "vodafone.de", MOBILE, *_BERLIN, "109.40.0.0/13"
        ),
        _n(
            "london-office",
            2856,
            "British Telecommunications PLC",
            "bt.com",
            OFFICE,
            *_LONDON,
            "81.128.0.0/12",
        ),
        _n(
            "london-home",
            2856,
            "British Telecommunications PLC",
            "btcentralplus.com",
            HOME,
            *_LONDON,
            "86.128.0.0/11",
        ),
        _n("london-mobile", 12576, "EE Limited", "ee.co.uk", MOBILE, *_LONDON, "31.94.0.0/17"),
        _n(
            "newyork-office",
            7922,
            "Comcast Cable Communications, LLC",
            "comcast.net",
            OFFICE,
            *_NEW_YORK,
            "50.200.0.0/13",
        ),
        _n(
            "newyork-home",
            7922,
            "Comcast Cable Communications, LLC",
            "comcast.net",
            HOME,
            *_NEW_YORK,
            "73.0.0.0/11",
        ),
        _n(
            "newyork-mobile",
            21928,
            "T-Mobile USA, Inc.",
            "t-mobile.com",
            MOBILE,
            *_NEW_YORK,
            "172.56.0.0/14",
        ),
        _n(
            "sf-office",
            7018,
            "AT&T Services, Inc.",
            "att.net",
            OFFICE,
            *_SAN_FRANCISCO,
            "12.0.0.0/10",
        ),
        _n(
            "sf-home",
            7922,
            "Comcast Cable Communications, LLC",
            "comcast.net",
            HOME,
            *_SAN_FRANCISCO,
            "73.162.0.0/15",
            "98.207.0.0/16",
        ),
        _n(
            "sf-mobile",
            6167,
            "Verizon Wireless",
            "verizonwireless.com",
            MOBILE,
            *_SAN_FRANCISCO,
            "174.192.0.0/10",
        ),
        _n(
            "tokyo-office",
            4713,
            "NTT Communications Corporation",
            "ocn.ne.jp",
            OFFICE,
            *_TOKYO,
            "153.150.0.0/15",
        ),
        _n(
            "tokyo-home",
            4713,
            "NTT Communications Corporation",
            "ocn.ne.jp",
            HOME,
            *_TOKYO,
            "153.156.0.0/14",
        ),
        _n(
            "tokyo-mobile", 9605, "NTT DOCOMO, INC.", "docomo.ne.jp", MOBILE, *_TOKYO, "1.72.0.0/13"
        ),
        # --- where people travel to (hotels, conference Wi-Fi)
        _n(
            "singapore-isp",
            3758,
            "SingNet Pte Ltd",
            "singnet.com.sg",
            HOME,
            *_SINGAPORE,
            "116.86.0.0/15",
        ),
        _n(
            "singapore-mobile",
            4657,
            "StarHub Ltd",
            "starhub.net.sg",
            MOBILE,
            *_SINGAPORE,
            "203.116.0.0/16",
        ),
        # --- corporate zero-trust egress (same city as the user: not an anonymiser)
        _n(
            "zscaler-london",
            62044,
            "Zscaler, Inc.",
            "zscaler.net",
            VPN,
            *_LONDON,
            "165.225.80.0/22",
        ),
        _n(
            "zscaler-newyork",
            62044,
            "Zscaler, Inc.",
            "zscaler.net",
            VPN,
            *_NEW_YORK,
            "165.225.38.0/23",
        ),
        _n("zscaler-tokyo", 62044, "Zscaler, Inc.", "zscaler.net", VPN, *_TOKYO, "165.225.96.0/23"),
        # --- consumer privacy relays and VPNs (flagged as anonymisers)
        _n(
            "relay-berlin",
            36183,
            "Akamai Technologies, Inc.",
            "akamai.com",
            RELAY,
            *_BERLIN,
            "172.224.226.0/24",
            anonymizer=True,
            operator="APPLE_ICLOUD_RELAY",
        ),
        _n(
            "relay-london",
            36183,
            "Akamai Technologies, Inc.",
            "akamai.com",
            RELAY,
            *_LONDON,
            "172.225.70.0/24",
            anonymizer=True,
            operator="APPLE_ICLOUD_RELAY",
        ),
        _n(
            "relay-newyork",
            13335,
            "Cloudflare, Inc.",
            "cloudflare.com",
            RELAY,
            *_NEW_YORK,
            "104.28.50.0/24",
            anonymizer=True,
            operator="APPLE_ICLOUD_RELAY",
        ),
        _n(
            "relay-sf",
            13335,
            "Cloudflare, Inc.",
            "cloudflare.com",
            RELAY,
            *_SAN_FRANCISCO,
            "104.28.86.0/24",
            anonymizer=True,
            operator="APPLE_ICLOUD_RELAY",
        ),
        _n(
            "relay-tokyo",
            36183,
            "Akamai Technologies, Inc.",
            "akamai.com",
            RELAY,
            *_TOKYO,
            "172.226.116.0/24",
            anonymizer=True,
            operator="APPLE_ICLOUD_RELAY",
        ),
        _n(
            "nordvpn-frankfurt",
            136787,
            "PacketHub S.A.",
            "nordvpn.com",
            RELAY,
            *_FRANKFURT,
            "185.216.33.0/24",
            anonymizer=True,
            operator="NORD_VPN",
        ),
        # --- cloud regions where workloads run
        _n(
            "aws-us-east-1",
            16509,
            "Amazon.com, Inc.",
            "amazonaws.com",
            CLOUD,
            *_ASHBURN,
            "44.192.0.0/11",
        ),
        _n(
            "aws-eu-west-1",
            16509,
            "Amazon.com, Inc.",
            "amazonaws.com",
            CLOUD,
            *_DUBLIN,
            "34.240.0.0/13",
        ),
        _n(
            "aws-eu-central-1",
            16509,
            "Amazon.com, Inc.",
            "amazonaws.com",
            CLOUD,
            *_FRANKFURT,
            "3.64.0.0/12",
        ),
        _n(
            "azure-westeurope",
            8075,
            "Microsoft Corporation",
            "microsoft.com",
            CLOUD,
            *_AMSTERDAM,
            "20.50.0.0/16",
        ),
        _n(
            "azure-eastus",
            8075,
            "Microsoft Corporation",
            "microsoft.com",
            CLOUD,
            *_BOYDTON,
            "40.117.0.0/16",
        ),
        _n(
            "gcp-europe-west3",
            396982,
            "Google LLC",
            "googleusercontent.com",
            CLOUD,
            *_FRANKFURT,
            "34.89.128.0/17",
        ),
        _n(
            "gcp-us-central1",
            396982,
            "Google LLC",
            "googleusercontent.com",
            CLOUD,
            *_COUNCIL_BLUFFS,
            "34.123.0.0/16",
        ),
        # --- hosting favoured by attackers (only ever used by the embedded scenarios)
        _n(
            "m247-bucharest",
            9009,
            "M247 Europe SRL",
            "m247.com",
            HOSTING,
            *_BUCHAREST,
            "185.236.200.0/22",
        ),
        _n(
            "digitalocean-frankfurt",
            14061,
            "DigitalOcean, LLC",
            "digitalocean.com",
            HOSTING,
            *_FRANKFURT,
            "167.99.128.0/17",
        ),
        _n("ovh-roubaix", 16276, "OVH SAS", "ovh.net", HOSTING, *_ROUBAIX, "51.75.0.0/16"),
    )
}

HOME_CITIES: dict[str, dict[str, str | None]] = {
    "Berlin": {
        "office": "berlin-office",
        "home": "berlin-home",
        "mobile": "berlin-mobile",
        "vpn": None,
        "relay": "relay-berlin",
    },
    "London": {
        "office": "london-office",
        "home": "london-home",
        "mobile": "london-mobile",
        "vpn": "zscaler-london",
        "relay": "relay-london",
    },
    "New York": {
        "office": "newyork-office",
        "home": "newyork-home",
        "mobile": "newyork-mobile",
        "vpn": "zscaler-newyork",
        "relay": "relay-newyork",
    },
    "San Francisco": {
        "office": "sf-office",
        "home": "sf-home",
        "mobile": "sf-mobile",
        "vpn": None,
        "relay": "relay-sf",
    },
    "Tokyo": {
        "office": "tokyo-office",
        "home": "tokyo-home",
        "mobile": "tokyo-mobile",
        "vpn": "zscaler-tokyo",
        "relay": "relay-tokyo",
    },
}


def distance_km(a: Network, b: Network) -> float:
    """Great-circle distance between two networks' cities (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))
