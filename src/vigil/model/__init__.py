"""Plain value types shared by every stage: labels now; matchers, samples and alerts later."""

from vigil.model.labels import METRIC_NAME, Labels

__all__ = ["METRIC_NAME", "Labels"]
