"""Processing: the workers' side of an inbound event.

``queue`` claims stored events with a lease and hands each batch to ``batch``, which
groups them by kind and runs the ``handlers`` (parties resolved through ``identity``);
``retrying`` decides when a failed event is tried again and says so to the reader.
"""
