"""The proposal panes and the area that lays them out."""

from .area import ProposalsArea
from .pane import ProposalPane

__all__ = ["ProposalPane", "ProposalsArea"]
