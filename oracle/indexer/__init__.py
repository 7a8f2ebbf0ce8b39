"""Reads flexledger contract events back into the database, incrementally.

Import the indexer from ``oracle.indexer.indexer`` and its tables from
``oracle.indexer.models``; this package stays import-light so that ``oracle.db`` can
register the tables without loading web3 bindings.
"""
