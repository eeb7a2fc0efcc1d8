"""The compiled real-time rules give exactly what ``DecisionEngine.decide_row`` gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.cli.output import to_jsonable
from nextbest.decide.assignment import key_hashes, unit_draws
from nextbest.decide.context import CustomerContext, synthetic_context
from nextbest.decide.realtime import CompiledRules, LiveInputs

from .conftest import default_engine

AT = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
N = 400


@cache
def _world() -> tuple[CustomerContext, np.ndarray, CompiledRules]:
    engine = default_engine()
    context = synthetic_context(N, engine.catalogue.ids, seed=11)
    return context, engine.static_codes(context, AT.date()), CompiledRules(engine)


def _live(draw: st.DrawFn, rules: CompiledRules, products: list[str]) -> LiveInputs:
    consent = {
        key: draw(st.sampled_from([0, 1]))
        for key in rules.consent_keys
        if draw(st.booleans())  # missing key: no event
    }
    counts = {name: draw(st.integers(0, 3)) for name in rules.cap_names if draw(st.booleans())}
    cooling = frozenset(p for p in products if draw(st.integers(0, 4)) == 0)
    return LiveInputs(consent, counts, draw(st.integers(0, 5)) == 0, cooling)


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, LiveInputs, datetime, dict[str, str], dict[int, str]]:
    _, _, rules = _world()
    row = draw(st.integers(0, N - 1))
    products = sorted({o.product_id for o in rules.catalogue})
    live = _live(draw, rules, products)
    at = AT + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)))  # quiet hours included
    request = draw(st.sampled_from([{}, {"in_app": "true"}, {"in_app": "false"}]))
    excluded = {}
    if draw(st.booleans()):
        j = draw(st.integers(0, len(rules.catalogue) - 1))
        excluded[j] = draw(st.sampled_from([f"contact.{c}" for c in rules.cap_names]))
    return row, live, at, request, excluded


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_compiled_rules_equal_decide_row(
    case: tuple[int, LiveInputs, datetime, dict[str, str], dict[int, str]],
) -> None:
    row, live, at, request, excluded = case
    context, static, rules = _world()
    engine = rules.engine
    key = context.customer_keys[row]
    record = context.record(row)
    expected = engine.decide_row(
        key,
        record,
        static[row],
        context.propensity[row],
        context.value[row],
        live.to_operational(rules.consent_keys, rules.cap_names),
        at,
        request,
        excluded,
    )
    spec = engine.policy.spec
    hashes = key_hashes([key])
    in_control = {
        c.campaign: bool(unit_draws(hashes, c.seed)[0] < c.fraction) for c in spec.control_groups
    }
    outcome = rules.evaluate(
        static[row].tolist(),
        (context.propensity[row] * context.value[row]).tolist(),
        bool(unit_draws(hashes, spec.holdout.seed)[0] < spec.holdout.fraction),
        in_control,
        live,
        at.astimezone(engine.tz),
        rules.weighted_levers(request),
        excluded,
    )
    assert tuple(outcome.codes) == expected.codes
    winner = engine.catalogue.index[expected.offer_id] if expected.offer_id else -1
    assert outcome.winner == winner
    if winner >= 0:
        assert outcome.priority[winner] == expected.priority
    explanation = rules.explain(key, record, outcome, context.value[row].tolist())
    assert explanation == expected.explanation
    assert explanation.to_json() == to_jsonable(expected.explanation)
    assert (
        live.to_json(rules.consent_keys, rules.cap_names)
        == live.to_operational(rules.consent_keys, rules.cap_names).to_json()
    )


def test_row_reader_equals_record() -> None:
    context, _, _ = _world()
    read = context.row_reader()
    for row in range(N):
        fast, slow = read(row), context.record(row)
        assert fast == slow
        assert [type(v) for v in fast.values()] == [type(v) for v in slow.values()]
