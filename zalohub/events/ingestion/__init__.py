"""Ingestion: Zalo's webhook in, stored before it is answered.

``receive`` checks a request (size, app, signature, age) and answers it; ``store`` writes
the accepted events once each (dedupe by Zalo's ids), in one transaction per request or,
under load, grouped by ``pg_writer`` on PostgreSQL; ``rejected`` keeps what was refused,
bounded, for Diagnostics. Nothing here calls a handler: processing claims the stored rows.
"""
