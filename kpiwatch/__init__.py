"""kpiwatch: the application shell (CLI, config loading, refresh loop)."""
