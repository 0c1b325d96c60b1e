"""Placement of cores on tiles, tiles on a chip's mesh, and chips in a system.

Cores are numbered globally: core ``c`` lives on chip ``c // cores_per_chip``.
Within a chip, cores fill tiles of ``cores_per_tile`` cores in order, and tiles
fill a ``mesh_width`` (east-west) by ``mesh_height`` (north-south) grid row by
row.  Chips are tiled into one larger mesh (a single east-west row unless
``chips_per_row`` is given).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import ParameterError
from .schema import _as_core, _as_count

__all__ = ["CoreGeometry"]


@dataclass(frozen=True)
class CoreGeometry:
    """Placement of cores on tiles, tiles on a chip's mesh, and chips in a system.

    Parameters
    ----------
    cores_per_chip : int
        Cores per chip.
    cores_per_tile : int
        Cores sharing one mesh router.
    mesh_width : int
        Tiles per chip east-west.
    mesh_height : int
        Tiles per chip north-south; ``cores_per_tile * mesh_width * mesh_height``
        must be at least ``cores_per_chip``.

    Notes
    -----
    Core ``c`` is core ``c % cores_per_chip`` of chip ``c // cores_per_chip``.
    Within a chip, cores fill tiles in order and tiles fill the mesh row by row
    (``x`` east-west, ``y`` north-south).  For routes between chips, the chips
    form one larger mesh: chip ``k`` sits at chip column ``k % chips_per_row``
    and chip row ``k // chips_per_row``; with ``chips_per_row=None`` all chips
    sit in one east-west row.
    """

    cores_per_chip: int
    cores_per_tile: int
    mesh_width: int
    mesh_height: int

    def __post_init__(self) -> None:
        for name in ("cores_per_chip", "cores_per_tile", "mesh_width", "mesh_height"):
            object.__setattr__(self, name, _as_count(getattr(self, name), name, 1))
        capacity = self.cores_per_tile * self.mesh_width * self.mesh_height
        if capacity < self.cores_per_chip:
            raise ParameterError(
                f"core geometry: cores_per_tile * mesh_width * mesh_height = "
                f"{self.cores_per_tile} * {self.mesh_width} * {self.mesh_height} = {capacity} "
                f"is smaller than cores_per_chip = {self.cores_per_chip}; the mesh must hold "
                f"every core."
            )

    @property
    def tiles_per_chip(self) -> int:
        """Number of tiles holding at least one core."""
        return -(-self.cores_per_chip // self.cores_per_tile)

    def chip_of(self, core: int) -> int:
        """Return the chip that holds global core index ``core``.

        Parameters
        ----------
        core : int
            Global core index (>= 0).

        Returns
        -------
        int
            Chip index.
        """
        return _as_core(core, "core") // self.cores_per_chip

    def mesh_position(self, core: int) -> tuple[int, int, int]:
        """Return ``(chip, x, y)``: the chip and the tile coordinates of ``core``.

        Parameters
        ----------
        core : int
            Global core index (>= 0).

        Returns
        -------
        tuple of int
            Chip index, east-west tile coordinate ``x`` in ``[0, mesh_width)`` and
            north-south tile coordinate ``y`` in ``[0, mesh_height)``.
        """
        chip, local = divmod(_as_core(core, "core"), self.cores_per_chip)
        y, x = divmod(local // self.cores_per_tile, self.mesh_width)
        return chip, x, y

    def same_tile(self, core_a: int, core_b: int) -> bool:
        """Return True if both cores share one tile (and so one router) of one chip."""
        return self.mesh_position(core_a) == self.mesh_position(core_b)

    def _chip_xy(self, chip: int, chips_per_row: int | None) -> tuple[int, int]:
        if chips_per_row is None:
            return chip, 0
        row, column = divmod(chip, _as_count(chips_per_row, "chips_per_row", 1))
        return column, row

    def _global(self, core: int, what: str, chips_per_row: int | None) -> tuple[int, int, int, int]:
        chip, x, y = self.mesh_position(_as_core(core, what))
        cx, cy = self._chip_xy(chip, chips_per_row)
        return cx * self.mesh_width + x, cy * self.mesh_height + y, cx, cy

    def hops(self, core_a: int, core_b: int, chips_per_row: int | None = None) -> tuple[int, int]:
        """Return ``(east_west_hops, north_south_hops)`` between two cores.

        Parameters
        ----------
        core_a, core_b : int
            Global core indices.
        chips_per_row : int, optional
            Chips per row of the multi-chip mesh; ``None`` puts all chips in one
            east-west row.

        Returns
        -------
        tuple of int
            Tile boundaries crossed east-west and north-south by a Manhattan
            route; ``(0, 0)`` for cores on the same tile.
        """
        xa, ya, _, _ = self._global(core_a, "core_a", chips_per_row)
        xb, yb, _, _ = self._global(core_b, "core_b", chips_per_row)
        return abs(xa - xb), abs(ya - yb)

    def chip_crossings(self, core_a: int, core_b: int, chips_per_row: int | None = None) -> int:
        """Return the number of chip boundaries a Manhattan route crosses.

        Parameters
        ----------
        core_a, core_b : int
            Global core indices.
        chips_per_row : int, optional
            As in :meth:`hops`.

        Returns
        -------
        int
            Chip boundaries crossed (0 within one chip).
        """
        _, _, cxa, cya = self._global(core_a, "core_a", chips_per_row)
        _, _, cxb, cyb = self._global(core_b, "core_b", chips_per_row)
        return abs(cxa - cxb) + abs(cya - cyb)
