"""Stored value on the member card: an append-only ledger, recharge rules, payments, refunds, liability."""
