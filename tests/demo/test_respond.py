import numpy as np
import pandas as pd
import pytest

from nextbest.demo.world import GenerationSummary
from nextbest.demo.world.respond import ContactError, World


@pytest.fixture(scope="module")
def world(golden_bank: GenerationSummary) -> World:
    return World.load(golden_bank.out)


def _contacts(world: World, channel: str, offer: str, reps: int = 6) -> pd.DataFrame:
    ids = np.tile(world.customer_ids.to_numpy(), reps)
    treated = np.tile(np.arange(len(world.customer_ids)) % 2 == 0, reps)
    return pd.DataFrame(
        {"customer_id": ids, "channel": channel, "offer": offer, "treated": treated}
    )


def test_responses_are_reproducible_and_control_is_not_contacted(world: World) -> None:
    contacts = _contacts(world, "sms", "WM301", reps=1)
    a = world.respond(contacts, seed=1)
    b = world.respond(contacts, seed=1)
    pd.testing.assert_frame_equal(a, b)
    control = a[~a["treated"]]
    assert not control["opened"].any() and not control["complained"].any()
    assert control["converted"].any()  # the baseline still converts
    assert (a.loc[a["converted"], "conversion_amount"] > 0).all()
    assert (a.loc[~a["converted"], "conversion_amount"] == 0).all()


def test_treatment_effects_are_heterogeneous_and_known(world: World) -> None:
    branch = _contacts(world, "branch", "FD401")
    truth = world.expected(branch)
    uplift = truth["conversion_treated"] - truth["conversion_control"]
    seg = pd.Series(world.segment[world.customer_ids.get_indexer(branch["customer_id"])])
    by_segment = uplift.groupby(seg.to_numpy()).mean()
    assert by_segment.max() > 0.002 and by_segment.min() < by_segment.max() / 2
    # calling young digital customers on the phone backfires on average
    phone = _contacts(world, "phone", "FD401")
    t = world.expected(phone)
    young = world.segment[world.customer_ids.get_indexer(phone["customer_id"])] == 0
    assert (t["conversion_treated"] - t["conversion_control"])[young].mean() < 0
    # simulated responses follow the truth
    sim = world.respond(branch, seed=3)
    observed = sim.groupby("treated")["converted"].mean()
    assert observed[True] > observed[False]
    expected_treated = truth.loc[branch["treated"], "conversion_treated"].mean()
    assert abs(observed[True] - expected_treated) < 0.02


def test_unknown_customer_or_channel_names_the_row(world: World) -> None:
    bad = pd.DataFrame({"customer_id": [world.customer_ids[0], "nobody"], "channel": "sms"})
    with pytest.raises(ContactError, match="row 2"):
        world.respond(bad, seed=0)
    bad = pd.DataFrame({"customer_id": [world.customer_ids[0]], "channel": ["pigeon"]})
    with pytest.raises(ContactError, match="pigeon"):
        world.respond(bad, seed=0)


def test_contacts_may_name_pseudonymous_keys(golden_bank: GenerationSummary) -> None:
    import pyarrow.compute as pc

    keyed = World.load(
        golden_bank.out, key_of=lambda ids: pc.binary_join_element_wise("key", ids, "-")
    )
    first = keyed.customer_ids[:3]
    by_id = pd.DataFrame({"customer_id": first, "channel": "sms", "offer": "DD002"})
    by_key = pd.DataFrame(
        {"customer_key": [f"key-{c}" for c in first], "channel": "sms", "offer": "DD002"}
    )
    a = keyed.respond(by_id, seed=2)
    b = keyed.respond(by_key, seed=2)
    assert a["converted"].tolist() == b["converted"].tolist()
    assert a["opened"].tolist() == b["opened"].tolist()
    plain = World.load(golden_bank.out)
    with pytest.raises(ContactError, match="key_of"):
        plain.respond(by_key, seed=2)
