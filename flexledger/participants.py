"""The participants of a local flexledger deployment and their keystores."""

from dataclasses import dataclass

from oracle.identity import Keystore, Signer
from oracle.signers import AccountBook
from oracle.types import Role


@dataclass(frozen=True, slots=True)
class ParticipantSpec:
    name: str
    role: Role | None  # None: the market operator, whose role comes with the deployment
    label: str


SCENARIO_PARTICIPANTS: tuple[ParticipantSpec, ...] = (
    ParticipantSpec("market-operator", None, "market operator (trust anchor, deployer)"),
    ParticipantSpec("oracle", Role.ORACLE, "oracle (metering attestations)"),
    ParticipantSpec("dso-north", Role.DSO, "DSO North Grid"),
    ParticipantSpec("fsp-alpha", Role.FSP, "FSP Alpha Aggregation (batteries, EV chargers)"),
    ParticipantSpec("fsp-beta", Role.FSP, "FSP Beta Energy (heat pumps, batteries)"),
    ParticipantSpec("auditor", Role.AUDITOR, "independent auditor"),
)


def open_participants(
    keystore: Keystore, password: str, chain_id: int, specs: tuple[ParticipantSpec, ...]
) -> dict[str, Signer]:
    """Load each participant's key, creating keystores that do not exist yet."""
    signers: dict[str, Signer] = {}
    for spec in specs:
        if keystore.exists(spec.name):
            signers[spec.name] = keystore.load(spec.name, password, network=chain_id)
        else:
            signers[spec.name] = keystore.create(spec.name, password, network=chain_id)
    return signers


def account_book(signers: dict[str, Signer]) -> AccountBook:
    return AccountBook(signer.account for signer in signers.values())
