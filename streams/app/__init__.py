"""The worker process: the Faust app, and the one function that wires agents, keepers, gates and the HTTP endpoint to it."""
