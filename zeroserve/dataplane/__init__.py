"""What every gateway and activator process runs beside the engine: endpoints from the
store into the capacity tracker, stats from the engine into the store, cold-start phases."""
