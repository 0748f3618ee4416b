"""The TUI's widgets (Textual): the header every screen carries, the command bar, and a
table that repaints only the cells that changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.cache import LRUCache
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey, RowKey

from linecontrol.api import LineView
from linecontrol.tui.present import (
    Cell,
    command_bar,
    command_block,
    fit,
    header_lines,
    holder,
    me,
    one_line,
    printable,
)
from linecontrol.tui.replay import banner


def _discard(cache: LRUCache[Any, Any], drop: Callable[[Any], bool]) -> None:
    for key in [k for k in cache.keys() if drop(k)]:  # noqa: SIM118 (no __iter__)
        cache.discard(key)


def rich(cell: Cell) -> Text:
    """A table's cell: one line, its control characters shown, never obeyed."""
    return Text(one_line(cell.text), style=cell.style)


def shown_text(content: Text | str) -> Text:
    """``content`` as it may reach the terminal: its lines kept, every other control
    character (an escape sequence of a server's text) shown as ``�`` (styles kept: each
    is replaced one for one)."""
    if isinstance(content, str):
        return Text(printable(content))
    plain = printable(content.plain)
    if plain != content.plain:
        content = content.copy()
        content.plain = plain
    return content


class Quiet(Static):
    """A Static updated only when its text changes (an update costs a layout pass). A
    string is shown as it is, never read as markup (``[no band]``, a server's text),
    its control characters shown as ``�`` (``shown_text``)."""

    _shown: Text | str | None = None

    def __init__(self, content: str = "", **kwargs: Any) -> None:
        super().__init__(content, markup=False, **kwargs)

    def show(self, content: Text | str) -> None:
        content = shown_text(content)
        if content == self._shown:
            return
        self._shown = content
        self.update(content)


class LineHeader(Quiet):
    """PackML state, mode, control holder and the connection, on every screen."""

    DEFAULT_CSS = """
    LineHeader { height: 2; dock: top; background: $panel; text-wrap: nowrap; }
    """

    def paint(self, view: LineView, now: float) -> None:
        width = self.size.width or 80
        first, second = header_lines(view, now, width)
        shown = banner(view, width)
        if shown:  # a replay: the banner leads the first line on every screen
            first = Cell(fit(f"{shown} │ {first.text}", width), "bold reverse")
        text = Text.assemble(rich(first), "\n", rich(second))
        text.no_wrap, text.overflow = True, "ellipsis"  # two lines, whatever the width
        self.show(text)


class MessageLine(Quiet):
    """The last command's verdict (accepted, or a refusal with its reason: up to two
    lines at 80 columns, so a long reason is read in full), above the
    footer (not docked: a second widget docked at the bottom would lie under it)."""

    DEFAULT_CSS = """
    MessageLine { height: auto; max-height: 2; }
    """

    def say(self, text: str, style: str = "") -> None:
        self.show(Text(text, style=style))


BAR_BREAK = 4  # the bar's first line ends after Unhold: two lines fit in 80 columns


class CommandBar(Quiet):
    """The PackML commands with their keys: the ones allowed now bold, the rest dimmed."""

    DEFAULT_CSS = """
    CommandBar { height: auto; }
    """

    def paint(self, view: LineView, now: float) -> None:
        parts: list[str | Text | tuple[str, str]] = []
        for i, (key, label, enabled) in enumerate(command_bar(view, now)):
            # enabled in brackets too, so it reads without colour (and in a text snapshot)
            text = f"[{key} {label}]" if enabled else f" {key} {label} "
            parts.append(Text(text, style="bold reverse" if enabled else "dim strike"))
            parts.append("\n" if i == BAR_BREAK else " ")
        block = command_block(view, now)
        if block:
            parts.append(Text(f"({block})", style="italic"))
        if holder(view) == me(view):  # t would take what this client holds
            parts.append("\ncontrol: yours  ctrl+r release")
        else:
            parts.append("\ncontrol: t take  T take by force (a hand-over)  ctrl+r release")
        self.show(Text.assemble(*parts))


class CellTable(DataTable[Text]):
    """A DataTable painted from (row key, cells) rows; only changed cells are updated,
    and the rows are rebuilt only when their keys change (the cursor then stays on the
    row of the key it was on, if that row is still there)."""

    def __init__(self, columns: Sequence[str], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._columns = tuple(columns)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self._widths: dict[int, int] = {}

    def on_mount(self) -> None:
        self._ensure_columns()

    def _ensure_columns(self) -> None:
        """The columns, once: on mount, or at the first ``sync`` if a repaint comes
        before the mount (a screen switch: DataTable raised 'More values provided than
        there are columns' and the TUI died)."""
        if not self.ordered_columns:
            for name in self._columns:
                self.add_column(name, key=name)

    def sync(self, rows: Sequence[tuple[str, tuple[Cell, ...]]]) -> None:
        """Show ``rows``: rebuilt when the keys change or a cell is wider than any its
        column has held (a column's width is set when its rows are added: a band that
        comes later was cut), else only the changed cells. A key given twice (a lying
        server: two stations of one name, two recipes of one path) is shown once, its
        first row (DataTable raised on the second and the TUI died)."""
        self._ensure_columns()
        first: dict[str, tuple[Cell, ...]] = {}
        for key, cells in rows:
            first.setdefault(key, cells)
        rows = list(first.items())
        keys = [key for key, _ in rows]
        wider = self._wider(rows)
        if keys != self._order or wider:
            cursor = self.cursor_row
            selected = self.selected_key()
            if selected in keys:  # the cursor follows its row (an alarm re-sorted by an ack)
                cursor = keys.index(selected)
            self.clear()
            self._shown = {}
            for key, cells in rows:
                self.add_row(*(rich(c) for c in cells), key=key)
                self._shown[key] = cells
            self._order = keys
            self._measure_now()
            if rows:
                self.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
            return
        changed: set[RowKey] = set()
        for key, cells in rows:
            old = self._shown.get(key)
            if old == cells:
                continue
            for column, (was, cell) in enumerate(zip(old or (), cells, strict=False)):
                if was != cell:
                    self._data[RowKey(key)][ColumnKey(self._columns[column])] = rich(cell)
            changed.add(RowKey(key))
            self._shown[key] = cells
        if changed:
            self._repaint_rows(changed)

    def _measure_now(self) -> None:
        """The new rows' column widths now, not on DataTable's next idle: a render
        between (the screen's update may come first) cached the rows at the old widths,
        and DataTable's idle measure clears no cache for rows of a fixed height, so the
        wider cell stayed cut until its row changed again (DataTable's private
        ``_update_dimensions`` and caches, as in Textual 8.2, pinned to its minor)."""
        new_rows = set(self._new_rows)
        self._new_rows.clear()
        self._require_update_dimensions = False
        self._update_dimensions(new_rows)
        self._clear_caches()
        self.refresh()

    def _wider(self, rows: Sequence[tuple[str, tuple[Cell, ...]]]) -> bool:
        widths = self._widths
        wider = False
        for key, cells in rows:
            if self._shown.get(key) == cells:
                continue
            for column, cell in enumerate(cells):
                width = cell_len(one_line(cell.text))  # as ``rich`` shows it
                if width > widths.get(column, 0):
                    widths[column] = width
                    wider = True
        return wider

    def _repaint_rows(self, changed: set[RowKey]) -> None:
        """Repaint only the rows whose cells changed (their text set in ``_data``).

        DataTable's ``update_cell`` bumps one counter that every render cache is keyed
        on and refreshes the whole widget, so a single new value re-renders every
        visible row. Here the changed rows' entries are dropped from those caches
        (DataTable's private caches, as in Textual 8.2, pinned to its minor) and only
        their lines are refreshed; column widths stay as they are, as with
        ``update_cell(update_width=False)``."""
        _discard(self._row_render_cache, lambda k: k[0] in changed)
        _discard(self._cell_render_cache, lambda k: k[0] in changed)
        indices = {self._row_locations.get(k) for k in changed}
        _discard(self._row_renderable_cache, lambda k: k[1] in indices)
        header = self.header_height if self.show_header else 0
        lines = {y + header for y, (k, _) in enumerate(self._y_offsets) if k in changed}
        _discard(self._line_cache, lambda k: k[0] in lines)
        for index in indices:
            if index is not None:
                self.refresh_row(index)

    def row_keys(self) -> list[str]:
        return list(self._order)

    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]
