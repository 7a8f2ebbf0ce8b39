"""Reading scopes of the signed-in participant, shared by the routes that read asset data."""

from market.access import Scope
from market.api.deps import Participant
from oracle.types import Role


def reader_scope(participant: Participant) -> Scope:
    """Everything for the market operator and auditors; otherwise what the participant's
    active FSP, DSO or TSO organisation owns or operates (403 for anyone else)."""
    if participant.is_operator or participant.holds(Role.AUDITOR):
        return Scope(participant.organisation, sees_all=True)
    return Scope(participant.require(Role.FSP, Role.DSO, Role.TSO))
