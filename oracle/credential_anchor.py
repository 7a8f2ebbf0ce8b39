"""Role credentials tied to their on-chain anchor in the RoleRegistry.

A role credential counts only while the registry holds a grant for the same subject and
role, with the same credential hash, not revoked and inside its validity window. These
checks plug into ``oracle.identity``'s credential and presentation verification.
"""

from oracle.bindings import ContractSuite
from oracle.identity import CredentialHash
from oracle.identity.credentials import RevocationCheck
from oracle.types import Address, Role


def anchored_grant_check(suite: ContractSuite, subject: Address, role: Role) -> RevocationCheck:
    """``is_revoked`` for verification: True unless the registry anchors this very credential."""

    def is_revoked(credential_hash: CredentialHash) -> bool:
        anchored, _valid_from, _valid_until, revoked = suite.read(
            "RoleRegistry", "roleGrant", subject, int(role)
        )
        if revoked or bytes(anchored) != bytes(credential_hash):
            return True
        return not suite.has_role(subject, role)

    return is_revoked
