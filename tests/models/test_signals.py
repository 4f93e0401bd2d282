"""Relationship signals as `models.signals` defines them, on small hand-made histories (no Firestore)."""

from __future__ import annotations

import datetime as dt

from models.domain import Activity, Participant
from models.signals import (
    EMAIL,
    EXCHANGES_MAX,
    MEETING,
    OURS,
    THEIRS,
    Exchange,
    Thresholds,
    compute,
    exchange_of,
    expired_exchanges,
    merged_exchanges,
    newest_exchanges,
    strength,
    thread_key,
    working_days_between,
)

NOW = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)  # a Thursday
REP, MATE = "rep@team.example", "mate@team.example"


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def ours(at, thread="a", rep=REP) -> Exchange:
    return Exchange(at, EMAIL, OURS, (rep,), thread_key(thread))


def theirs(at, thread="a", rep=REP, offset=None) -> Exchange:
    return Exchange(at, EMAIL, THEIRS, (rep,), thread_key(thread), offset)


def test_working_days_skip_the_weekend():
    monday = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    assert working_days_between(monday, NOW) == 3
    friday = dt.datetime(2026, 11, 27, 17, tzinfo=dt.UTC)
    assert working_days_between(friday, friday + days(3)) == 1
    assert working_days_between(NOW, NOW) == 0
    assert working_days_between(monday, monday + days(14)) == 10


def test_the_response_rate_counts_answers_in_the_same_thread_within_seven_days():
    history = [ours(NOW - days(30), "Pricing"), theirs(NOW - days(29), "RE: pricing"),
               ours(NOW - days(20), "Demo"), theirs(NOW - days(10), "Re: Demo"),  # answered too late
               ours(NOW - days(15), "Contract"), theirs(NOW - days(14.5), "Fwd: Re: Contract"),
               ours(NOW - days(2), "Follow-up"),  # too recent to count as unanswered
               ours(NOW - days(200), "Old")]  # outside the 180-day window
    signals = compute(history, NOW)
    assert (signals.emails_answered, signals.emails_asked) == (2, 3)
    assert signals.their_reply_median == dt.timedelta(days=1)  # 1 day, 10 days, 0.5 day
    assert signals.our_reply_median is None


def test_waiting_on_us_and_on_them_use_working_days_and_the_thresholds():
    monday = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    assert compute([theirs(monday, "Question")], NOW).waiting_on_us_days == 3
    assert not compute([theirs(monday, "Question"), ours(NOW - days(0.1), "Re: Question")], NOW).waiting_on_us
    assert not compute([theirs(monday, "Question")], NOW, Thresholds(waiting_on_us_days=3)).waiting_on_us
    waiting = compute([ours(NOW - days(9), "Proposal")], NOW)
    assert waiting.waiting_on_them and waiting.waiting_on_them_days == 7 and not waiting.waiting_on_us


def test_past_and_upcoming_meetings_are_decided_at_read_time():
    past, upcoming = NOW - days(5), NOW + days(2)
    history = {"a1": Exchange(past, MEETING, "", (REP,)).encode(),
               "a2": Exchange(upcoming, MEETING, "", (REP,)).encode()}
    signals = compute(history, NOW)
    assert (signals.last_meeting_at, signals.next_meeting_at, signals.last_activity_at) == (past, upcoming, past)
    later = compute(history, NOW + days(3))  # the meeting passed: no write needed
    assert (later.last_meeting_at, later.next_meeting_at) == (upcoming, None)


def test_strength_rewards_two_way_and_recent_exchanges_and_names_the_strongest_teammate():
    blast = [ours(NOW - days(n), f"news {n}", rep=MATE) for n in range(1, 10)]
    talk = [e for n in range(1, 5) for e in (ours(NOW - days(n), f"t{n}"), theirs(NOW - days(n) + days(0.1), f"t{n}"))]
    assert strength(talk, NOW) > strength(blast, NOW)
    assert strength(talk, NOW) > strength([ours(e.at - days(300), "x") for e in talk], NOW)
    signals = compute(blast + talk, NOW)
    assert signals.strongest == REP and 0 <= signals.strength <= 100
    assert signals.strength_by_rep[REP] > signals.strength_by_rep[MATE]


def test_going_cold_needs_a_regular_history_and_a_long_silence():
    regular = [theirs(NOW - days(100 + 7 * n), f"w{n}") for n in range(6)]  # weekly, silent for 100 days
    assert compute(regular, NOW).going_cold
    assert not compute(regular[:2], NOW).going_cold  # never regular
    recent = [theirs(NOW - days(20 + 7 * n), f"w{n}") for n in range(6)]  # 20 days: under the 30-day floor
    assert not compute(recent, NOW).going_cold


def test_best_time_is_a_window_of_their_local_hours_from_five_replies():
    replies = [theirs(dt.datetime(2026, 11, d, 8, 30, tzinfo=dt.UTC), f"r{d}", offset=60) for d in range(2, 7)]
    assert compute(replies, NOW).best_hours == (9, 12)  # 08:30 UTC is 09:30 at +01:00
    assert compute(replies[:4], NOW).best_hours is None


def test_an_exchange_depends_on_the_activity_and_the_contact_only():
    activity = Activity(id="a1", kind="email", at=NOW - days(1), subject="Re: Pricing", direction="inbound",
                        participants=[Participant("ann@client.example", role="from"), Participant(REP, role="to"),
                                      Participant("bob@client.example", role="cc")], utc_offset=-300)
    internal = lambda address: address.endswith("@team.example")  # noqa: E731
    mine = exchange_of(activity, {"ann@client.example"}.__contains__, internal, NOW)
    copied = exchange_of(activity, {"bob@client.example"}.__contains__, internal, NOW)
    assert (mine.direction, mine.reps, mine.utc_offset, mine.thread) == (THEIRS, (REP,), -300, thread_key("Pricing"))
    assert copied.direction == "c" and copied.utc_offset is None
    assert Exchange.decode(mine.encode()) == mine
    merged = merged_exchanges({"a1": copied.encode()}, {"a1": mine.encode()})
    assert merged == {"a1": mine.encode()}  # the person's own mail wins over a copy, whichever contact is kept
    assert merged_exchanges({"a1": mine.encode()}, {"a1": copied.encode()}) == merged


def test_a_subject_taken_up_after_a_long_silence_is_a_new_conversation_and_old_ones_wait_on_nobody():
    renewal = [ours(NOW - days(400), "Renewal"), theirs(NOW - days(20), "Re: Renewal")]
    signals = compute(renewal, NOW)
    assert signals.their_reply_median is None  # not a 380-day reply
    assert signals.waiting_on_us and signals.awaiting_us_at == NOW - days(20)
    stale = compute([ours(NOW - days(45), "Proposal")], NOW)
    assert not stale.waiting_on_them and stale.awaiting_them_at is None  # silent 45 days: closed, not open


def test_the_team_s_mail_counts_as_to_the_person_only_when_they_are_in_to():
    mail = Activity(id="a2", kind="email", at=NOW - days(1), subject="Plan", direction="outbound",
                    participants=[Participant(REP, role="from"), Participant("bob@client.example", role="to"),
                                  Participant("ann@client.example", role="cc")])
    internal = lambda address: address.endswith("@team.example")  # noqa: E731
    assert exchange_of(mail, {"bob@client.example"}.__contains__, internal, NOW).direction == OURS
    assert exchange_of(mail, {"ann@client.example"}.__contains__, internal, NOW).direction == "c"


def test_a_contact_keeps_only_its_newest_exchanges_and_signals_read_no_more():
    """A correspondent of thousands of emails a month must not grow the contact document without bound."""
    many = {f"a{n:06d}": theirs(NOW - days(n / 100), thread=f"t{n}").encode() for n in range(EXCHANGES_MAX + 300)}
    kept = newest_exchanges(many)
    assert len(kept) == EXCHANGES_MAX and "a000000" in kept and f"a{EXCHANGES_MAX:06d}" not in kept
    assert set(expired_exchanges(many, NOW)) == set(many) - set(kept)
    assert compute(many, NOW) == compute(kept, NOW)  # the stored map and the pruned one say the same
