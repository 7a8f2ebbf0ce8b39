"""The oracle: the only Python that writes to the chain.

* ``oracle.chain``: connections (embedded py-evm, any JSON-RPC node)
* ``oracle.identity``: keystores, did:ethr, role credentials
* ``oracle.service.OracleService``: validate → persist (outbox) → dispatch → index
* ``oracle.audit.Auditor``: recompute every settlement from chain logs alone
"""
