"""Vault's init answer is the only copy of its keys (issue 17, item 2): the intent is recorded
before the call, the answer saved before anything else (a Ctrl-C waits for it), and a lost
answer is recognised as our own and recovered only with the user's say-so."""

import asyncio
import dataclasses
import json

import pytest
from support.drivers import FakeVault

from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers import platform

from .helpers import make_context, platform_config


class RecordingVault(FakeVault):
    """Notes, at the moment of the init call, whether the intent was already on disk."""

    intent_path = None
    intent_seen: list = []

    async def initialize(self, key_shares, key_threshold):
        self.intent_seen.append(self.intent_path.exists())
        return await super().initialize(key_shares, key_threshold)


def lost_answer(tmp_path, **vault_state):
    """The state a run killed between Vault's init and saving its answer leaves behind."""
    config = platform_config()
    vault = FakeVault(initialized=True, **vault_state)
    ctx, lines = make_context(config, tmp_path, vault=vault)
    ctx.state.write_file(ctx.state.vault_init_intent, json.dumps({"started": "2026-12-02 10:00:00 UTC"}), mode=0o600)
    return config, vault, ctx, lines


async def test_the_intent_is_on_disk_before_the_init_call_and_gone_once_the_answer_is_saved(tmp_path):
    config = platform_config()
    vault = RecordingVault()
    ctx, _ = make_context(config, tmp_path, vault=vault)
    vault.intent_path, vault.intent_seen = ctx.state.vault_init_intent, []
    step = platform.VaultInitialise(config)
    await step.apply(ctx, await step.check(ctx))
    assert vault.intent_seen == [True]
    assert ctx.state.vault_init.exists() and not ctx.state.vault_init_intent.exists()


async def test_a_lost_answer_is_named_as_our_own_and_the_recovery_needs_the_flag(tmp_path):
    config, vault, ctx, _ = lost_answer(tmp_path)
    with pytest.raises(PermanentError) as failure:
        await platform.VaultInitialise(config).check(ctx)
    assert "this install's own interrupted run (2026-12-02 10:00:00 UTC)" in failure.value.message
    assert "someone else" not in failure.value.message
    assert "Vault has stayed sealed since, so it holds nothing" in failure.value.message
    assert "--reinitialise-vault" in failure.value.hint and "--yes" in failure.value.hint
    assert vault.changes() == []


async def test_with_the_flag_vault_is_wiped_and_initialised_again(tmp_path):
    config, vault, ctx, lines = lost_answer(tmp_path)
    ctx = dataclasses.replace(ctx, allowed=frozenset({platform.REINITIALISE_VAULT}))
    step = platform.VaultInitialise(config)
    check = await step.check(ctx)
    assert not check.done and check.facts["wipe"]
    assert "data-vault-0" in check.actions[0].description
    await step.apply(ctx, check)
    assert [c[0] for c in vault.changes()] == ["wipe_storage", "initialize"]
    assert json.loads(ctx.state.vault_init.read_text())["root_token"] == "hvs.root-token-value"
    assert not ctx.state.vault_init_intent.exists()
    assert (await step.check(ctx)).done


async def test_an_unsealed_vault_is_never_wiped_even_with_the_flag(tmp_path):
    config, vault, ctx, _ = lost_answer(tmp_path, sealed=False)
    ctx = dataclasses.replace(ctx, allowed=frozenset({platform.REINITIALISE_VAULT}))
    with pytest.raises(PermanentError, match="someone holds its keys"):
        await platform.VaultInitialise(config).check(ctx)
    assert vault.changes() == []


async def test_without_our_intent_an_initialised_vault_is_someone_elses_even_with_the_flag(tmp_path):
    config = platform_config()
    vault = FakeVault(initialized=True)
    ctx, _ = make_context(config, tmp_path, vault=vault)
    ctx = dataclasses.replace(ctx, allowed=frozenset({platform.REINITIALISE_VAULT}))
    with pytest.raises(PermanentError, match="initialised by someone else"):
        await platform.VaultInitialise(config).check(ctx)
    assert vault.changes() == []


class SlowVault(FakeVault):
    """Vault takes its time to answer the init: long enough for a Ctrl-C to arrive."""

    asked: asyncio.Event
    answer: asyncio.Event

    async def initialize(self, key_shares, key_threshold):
        self.asked.set()
        await self.answer.wait()
        return await super().initialize(key_shares, key_threshold)


async def test_a_cancel_while_vault_answers_the_init_still_saves_the_answer(tmp_path):
    config = platform_config()
    vault = SlowVault()
    vault.asked, vault.answer = asyncio.Event(), asyncio.Event()
    ctx, _ = make_context(config, tmp_path, vault=vault)
    step = platform.VaultInitialise(config)
    check = await step.check(ctx)
    running = asyncio.ensure_future(step.apply(ctx, check))
    await vault.asked.wait()
    running.cancel()  # the run is interrupted while Vault is answering
    await asyncio.sleep(0)
    running.cancel()  # and again: "stop at once"
    await asyncio.sleep(0)
    assert not running.done()  # still waiting for the answer
    vault.answer.set()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert json.loads(ctx.state.vault_init.read_text())["unseal_keys"]  # the keys were not dropped
    assert not ctx.state.vault_init_intent.exists()
