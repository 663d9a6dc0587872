"""Plain value types shared by every stage: labels, matchers; samples and alerts later."""

from vigil.model.labels import METRIC_NAME, Labels
from vigil.model.matchers import Matcher, MatchType, matches_all

__all__ = ["METRIC_NAME", "Labels", "MatchType", "Matcher", "matches_all"]
