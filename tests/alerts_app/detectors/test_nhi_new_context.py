"""Non-human identities used outside their learned baseline."""

import random

from alerts_app.detectors import Baseline, get, update_baseline

from .factories import (
    AWS_FRANKFURT,
    AWS_FRANKFURT_2,
    BUCHAREST,
    CURL,
    FIREFOX_MAC,
    PYTHON_REQUESTS,
    ev,
    identity,
)

detector = get("nhi_new_context")
DAY = 24 * 60  # minutes
WINDOW = 14 * 86400


def job(minutes, place=AWS_FRANKFURT, **fields):
    """A service account's nightly API call."""
    fields.setdefault("user_agent", PYTHON_REQUESTS)
    fields.setdefault("device_id", "")
    fields.setdefault("actor_login", "svc-backup")
    fields.setdefault("token_kind", "api_token")
    fields.setdefault("provider_event_type", "app.oauth2.token.grant")
    fields.setdefault("event_type", "token_issued")
    return ev(minutes, place, **fields)


HISTORY = [job(d * DAY) for d in range(20)]
LEARNED = update_baseline(Baseline(), HISTORY, WINDOW)


def nhi(baseline=LEARNED, **fields):
    fields.setdefault("identity_kind", "service_account")
    return identity(baseline=baseline, **fields)


def run(state, new, **params):
    return detector.detect(state, new, params or None)


# ------------------------------------------------------------------ baseline


def test_baseline_learns_contexts():
    assert set(LEARNED.asns) == {"AS16509"}
    assert set(LEARNED.countries) == {"DE"}
    assert set(LEARNED.client_families) == {"python-requests"}
    assert set(LEARNED.ip_prefixes) == {"3.120.0.0/24"}
    assert LEARNED.started_at == HISTORY[0].occurred_at
    assert LEARNED.asns["AS16509"].count == 20


def test_baseline_is_order_independent_and_round_trips():
    shuffled = HISTORY[:]
    random.Random(7).shuffle(shuffled)
    assert update_baseline(Baseline(), shuffled, WINDOW) == LEARNED
    assert Baseline.from_dict(LEARNED.to_dict()) == LEARNED


def test_baseline_forgets_contexts_unused_for_a_window():
    old = job(0, BUCHAREST)
    rolled = update_baseline(Baseline(), [old, *HISTORY[1:]], WINDOW)
    assert "AS9009" not in rolled.asns
    assert rolled.started_at == old.occurred_at


def test_baseline_ignores_failures():
    assert (
        update_baseline(LEARNED, [job(21 * DAY, BUCHAREST, outcome="failure")], WINDOW) == LEARNED
    )


# ------------------------------------------------------------------ must alert


def test_stolen_key_used_with_curl_from_another_country():
    [finding] = run(nhi(), [job(21 * DAY, BUCHAREST, user_agent=CURL)])
    assert (finding.severity, finding.score) == ("critical", 90)
    assert finding.dedup_subject == "identity:42"
    labels = [f.label for f in finding.factors]
    assert labels[:3] == [
        "New network AS9009 M247 Europe SRL",
        "New country RO",
        "New client curl/8.1",
    ]
    assert "svc-backup (service account) used from 185.220.101.4" in finding.summary
    assert "baseline has AS16509 in DE with python-requests" in finding.summary


def test_new_client_family_alone():
    [finding] = run(nhi(), [job(21 * DAY, user_agent=FIREFOX_MAC)])
    assert [f.label for f in finding.factors] == ["New client Firefox 121 on macOS"]
    assert finding.severity == "low"


def test_new_network_in_a_known_country():
    hetzner = {**AWS_FRANKFURT, "ip": "88.99.1.1", "asn": 24940, "as_org": "Hetzner"}
    [finding] = run(nhi(), [job(21 * DAY, hetzner)])
    assert finding.factors[0].label == "New network AS24940 Hetzner"
    assert finding.score == 40


def test_a_burst_from_one_new_context_is_one_new_context():
    burst = [job(21 * DAY + n, BUCHAREST, user_agent=CURL) for n in range(5)]
    [finding] = run(nhi(), burst)
    assert finding.evidence["trigger_event_ids"] == [burst[0].provider_event_id]


# ------------------------------------------------------------------ must not alert


def test_nothing_during_learning():
    young = update_baseline(Baseline(), HISTORY[:3], WINDOW)
    assert run(nhi(young), [job(3 * DAY, BUCHAREST, user_agent=CURL)]) == []


def test_nothing_without_any_history():
    assert run(nhi(Baseline()), [job(0, BUCHAREST, user_agent=CURL)]) == []


def test_new_ip_in_a_known_network_and_client():
    assert run(nhi(), [job(21 * DAY, AWS_FRANKFURT_2)]) == []


def test_human_identities_are_out_of_scope():
    assert run(nhi(identity_kind="human"), [job(21 * DAY, BUCHAREST, user_agent=CURL)]) == []


def test_refused_attempts_from_new_contexts():
    assert run(nhi(), [job(21 * DAY, BUCHAREST, user_agent=CURL, outcome="failure")]) == []


def test_longer_learning_window_keeps_quiet_longer():
    assert run(nhi(), [job(21 * DAY, BUCHAREST)], learning_window_s=30 * 86400) == []
