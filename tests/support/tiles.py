"""Tiny tiles for the compiled loop's tiled dense deliveries, so small test networks
exercise them: every dense projection of a batch runs tile by tile, 16 columns by a
few rows (4 in float32, 2 in float64), events of a sample straddling the tiles."""

from neuro.backends.cpu import fastpath


def use_small_tiles(monkeypatch) -> None:
    """Tile every dense delivery of a batch (undone when the test ends)."""
    monkeypatch.setattr(fastpath, "TILED_WEIGHT_BYTES", 0)
    monkeypatch.setattr(fastpath, "TILE_COLUMNS", 16)
    monkeypatch.setattr(fastpath, "TILE_BYTES", 256)
