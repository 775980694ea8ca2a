"""The pipeline benchmark's parts, one module per stage; `bench/pipeline.py` runs them.

common      constants, the bench database, Django set-up, the stream
rows        the events and messages the runs seed, store and count
procs       uvicorn servers and `zalohub worker` processes on loopback
ingest      webhooks through the server against bare 200s
processing  events through the workers, at once and at a steady rate
recovery    a worker killed holding a batch
report      the table printed at the end
cli         the command line
"""
