"""paperclaims: replication pipeline for five deep-learning-theory papers."""

__version__ = "0.1.0"
