"""Several `ivr serve` instances as one center: Kamailio in front (docs/cluster.md)."""
