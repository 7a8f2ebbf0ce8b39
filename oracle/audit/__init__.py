"""Verifying every settlement from chain logs alone (``flexledger audit``)."""

from oracle.audit.auditor import Auditor
from oracle.audit.report import AuditReport, Mismatch

__all__ = ["AuditReport", "Auditor", "Mismatch"]
