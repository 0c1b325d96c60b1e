"""Tiny blocks and tiles for the compiled loop's dense deliveries of a batch, so small
test networks exercise them: 16-column blocks in the threaded lockstep schedule, and on
one thread tiles of 16 columns by a few rows (4 in float32, 2 in float64), events of a
sample straddling the tiles."""

from neuro.backends.cpu import fastpath


def use_small_tiles(monkeypatch) -> None:
    """Block or tile every dense delivery of a batch (undone when the test ends)."""
    monkeypatch.setattr(fastpath, "COLUMN_BLOCK_BYTES", 0)  # 16-column blocks (lockstep)
    monkeypatch.setattr(fastpath, "TILED_WEIGHT_BYTES", 0)
    monkeypatch.setattr(fastpath, "TILE_MIN_BATCH", 1)
    monkeypatch.setattr(fastpath, "TILE_COLUMNS", 16)
    monkeypatch.setattr(fastpath, "TILE_BYTES", 256)
