"""/addkey, /listkeys and /removekey: what the learner types and what the bot answers (no platform here).

/addkey checks the key with one provider call before storing it. No reply, log line or error ever
contains the key: replies name its last four characters only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..marketdata.model import BadKey, NoData, ProviderFailure, RateLimited
from .parsing import KeysUnavailable

if TYPE_CHECKING:
    from ..marketdata.ports import Provider
    from .vault import KeyVault

log = logging.getLogger("fiml_bot.keys")

CHECK_SYMBOL = "AAPL"  # the one call that checks a new key
CHECK_BOUND = 10.0  # seconds: the learner asked and waits for the answer
USAGE = "Send /addkey PROVIDER KEY, e.g. /addkey finnhub abc123 (providers: {providers}). I delete that message right away."


@dataclass
class KeyCommands:
    vault: KeyVault
    providers: Mapping[str, Provider]
    count: Callable[[str, str], None] = lambda provider, outcome: None

    async def handle(self, learner: str, name: str, argument: str) -> str:
        """The reply to one key command (never raises for a learner's input or a provider's answer)."""
        try:
            if name == "addkey":
                return await self._add(learner, argument)
            if name == "listkeys":
                return await asyncio.to_thread(self._list, learner)
            return await asyncio.to_thread(self._remove, learner, argument)
        except KeysUnavailable as exc:
            return f"Sorry, {exc}."

    def _usage(self) -> str:
        return USAGE.format(providers=", ".join(sorted(self.providers)))

    async def _add(self, learner: str, argument: str) -> str:
        provider_name, _, key = argument.partition(" ")
        provider_name, key = provider_name.strip().lower(), key.strip()
        provider = self.providers.get(provider_name)
        if provider is None or not key or " " in key or len(key) > 200:
            return self._usage()
        if self.vault.cipher is None:
            raise KeysUnavailable(
                "this bot cannot store keys yet: its operator has not set an encryption key"
            )
        try:
            await asyncio.wait_for(provider.quote(CHECK_SYMBOL, key), CHECK_BOUND)
            self.count(provider_name, "ok")
            note = ""
        except RateLimited as exc:
            self.count(provider_name, exc.outcome)  # the provider knows the key: it counts its calls
            note = f" {provider_name} says the key's limit is reached for now; I will use it once it resets."
        except NoData as exc:
            self.count(provider_name, exc.outcome)
            note = ""
        except BadKey as exc:
            self.count(provider_name, exc.outcome)
            return f"❌ {provider_name} did not accept that key, so I did not store it. Check it and send /addkey again."
        except (ProviderFailure, TimeoutError) as exc:
            self.count(provider_name, getattr(exc, "outcome", "deadline"))
            return f"⚠️ I could not reach {provider_name} to check the key, so I did not store it. Please try again later."
        await asyncio.to_thread(self.vault.add, learner, provider_name, key)
        log.info("learner %s stored a %s key", learner, provider_name)
        return (
            f"🔑 Saved your {provider_name} key ending in {key[-4:]}, encrypted. "
            f"Live lesson data now uses it first.{note} /listkeys shows your keys, /removekey {provider_name} deletes it."
        )

    def _list(self, learner: str) -> str:
        entries = self.vault.entries(learner)
        if not entries:
            return f"You have no stored keys. {self._usage()}"
        lines = [
            f"• {e.provider}: …{e.last4}, added {e.added_at:%Y-%m-%d %H:%M} UTC, {e.used_today} call(s) today"
            for e in entries
        ]
        return "🔑 Your data-provider keys:\n" + "\n".join(lines)

    def _remove(self, learner: str, argument: str) -> str:
        provider = argument.strip().lower()
        if not provider:
            return "Send /removekey PROVIDER, e.g. /removekey finnhub."
        if self.vault.remove(learner, provider):
            return f"🗑 Deleted your {provider} key."
        return f"You have no stored {provider} key."
