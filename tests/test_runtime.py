"""The composition root: parts built once per process, every flow function registered there."""
from __future__ import annotations

import logging

from runtime import flow_functions, load_checked_flows


def test_starting_the_workers_warns_about_nothing(app, caplog):
    """Both worker pools (replies and bulk) run without Dramatiq's "middleware of the same type
    twice" warning, which two pools on one broker gave on every `flask` command and worker."""
    runtime = app.extensions["dda"]
    runtime.tasks.stop_worker()
    with caplog.at_level(logging.WARNING, logger="dramatiq"):
        assert runtime.tasks.start_worker(threads=2, bulk_threads=1, sweep_every=3600)
    assert [record.getMessage() for record in caplog.records if record.name.startswith("dramatiq")] == []


def test_every_action_and_list_a_flow_names_is_registered_by_the_composition_root(app):
    actions, choices = flow_functions()
    flows = load_checked_flows(app.extensions["dda"])
    named = {step.get("action") for flow in flows.flows.values() for step in flow.steps.values()
             if step.kind == "action"} | {"handoff", "set_language"}
    assert named <= actions.names()
    assert {"referral_regions", "referral_offers"} <= choices.names()


def test_registering_a_name_twice_is_refused():
    actions, choices = flow_functions()
    try:
        actions.add("handoff", lambda context: "ok")
    except ValueError as error:
        assert "registered twice" in str(error)
    else:
        raise AssertionError("a second 'handoff' was accepted")
