"""The bus between processes: MemoryStore and RedisStore behind one contract."""
