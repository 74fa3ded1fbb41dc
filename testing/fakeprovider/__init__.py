"""A fake market-data provider on loopback, answering as Alpha Vantage and Finnhub document."""

from .server import FakeProvider, ProviderCall

__all__ = ["FakeProvider", "ProviderCall"]
