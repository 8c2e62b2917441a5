"""The live operations views: a faust-streaming app folding `case-ledger` into windowed tables."""
