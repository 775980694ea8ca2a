"""zalohub: a self-hosted hub for Zalo Official Accounts."""
