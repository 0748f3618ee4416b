"""The TUI's table repaints only the rows whose cells changed (a 10 Hz line with many
channels stays cheap), and shows their new text."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult

from linecontrol.tui.present import Cell
from linecontrol.tui.widgets import CellTable

pytestmark = pytest.mark.integration

COLUMNS = ("channel", "value")


def rows(changed: dict[int, str] | None = None) -> list[tuple[str, tuple[Cell, ...]]]:
    changed = changed or {}
    return [(f"ch{i}", (Cell(f"ch{i}"), Cell(changed.get(i, f"{i}.0")))) for i in range(30)]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CellTable(COLUMNS, id="t")


def screen_text(app: App[Any]) -> str:
    return "\n".join(s.text for s in app.screen._compositor.render_strips())


async def test_one_changed_value_repaints_only_its_row() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 40)) as pilot:
        table = app.query_one(CellTable)
        table.sync(rows())
        await pilot.pause()
        assert "ch29" in screen_text(app)  # every row visible
        rendered: list[str] = []
        inner = table._render_line_in_row

        def spy(row_key: Any, *args: Any, **kw: Any) -> Any:
            rendered.append(str(row_key.value))
            return inner(row_key, *args, **kw)

        table._render_line_in_row = spy  # type: ignore[method-assign]
        table.sync(rows({7: "77.5"}))
        await pilot.pause()
        text = screen_text(app)
        assert "77.5" in text and "7.0" not in text.replace("17.0", "").replace("27.0", "")
        assert [str(c) for c in table.get_row_at(7)] == ["ch7", "77.5"]
        assert set(rendered) == {"ch7"}
        # the cursor row's style still follows the cursor
        rendered.clear()
        table.sync(rows({0: "0.5", 7: "77.5"}))
        await pilot.pause()
        assert set(rendered) == {"ch0"}
        assert "0.5" in screen_text(app)


async def test_rows_with_new_keys_rebuild_the_table() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 40)) as pilot:
        table = app.query_one(CellTable)
        table.sync(rows())
        await pilot.pause()
        table.sync(rows()[:3])
        await pilot.pause()
        assert table.row_keys() == ["ch0", "ch1", "ch2"] and table.row_count == 3
        assert "ch3" not in screen_text(app)


async def test_a_changed_row_below_the_scroll_shows_its_new_text() -> None:
    app = TableApp()
    many = [(f"ch{i}", (Cell(f"ch{i}"), Cell(f"v{i}"))) for i in range(100)]
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(CellTable)
        table.sync(many)
        await pilot.pause()
        table.move_cursor(row=95)
        await pilot.pause()
        assert "v95" in screen_text(app)
        changed = list(many)
        changed[94] = ("ch94", (Cell("ch94"), Cell("new94")))
        changed[3] = ("ch3", (Cell("ch3"), Cell("new3")))  # off screen
        table.sync(changed)
        await pilot.pause()
        assert "new94" in screen_text(app) and "v94" not in screen_text(app)
        table.move_cursor(row=0)
        await pilot.pause()
        assert "new3" in screen_text(app)


async def test_a_cell_wider_than_its_column_has_been_is_shown_in_full() -> None:
    """A column's width is set when its rows are added: a band that comes later (a
    recipe loaded after the first paint) was cut to the column's old width."""
    app = TableApp()
    async with app.run_test(size=(60, 40)) as pilot:
        table = app.query_one(CellTable)
        table.sync(rows())
        await pilot.pause()
        table.sync(rows({5: "180.0 [170.0..190.0]"}))
        await pilot.pause()
        assert "180.0 [170.0..190.0]" in screen_text(app)
        rendered: list[str] = []
        inner = table._render_line_in_row

        def spy(row_key: Any, *args: Any, **kw: Any) -> Any:
            rendered.append(str(row_key.value))
            return inner(row_key, *args, **kw)

        table._render_line_in_row = spy  # type: ignore[method-assign]
        table.sync(rows({5: "180.0 [170.0..190.0]", 7: "77.5"}))  # narrower: one row
        await pilot.pause()
        assert set(rendered) == {"ch7"}


async def test_rows_given_before_the_table_is_mounted_get_their_columns() -> None:
    """A repaint can reach a table of a screen still composing, before its on_mount
    added the columns: DataTable raised 'More values provided than there are columns'
    and the TUI died (seen in CI under load). The columns come with the first rows, and
    the mount adds none twice."""

    class Empty(App[None]):
        pass

    app = Empty()
    async with app.run_test(size=(60, 40)) as pilot:
        table = CellTable(COLUMNS, id="late")
        table.sync(rows())  # before its mount
        await app.mount(table)
        await pilot.pause()
        assert [str(c.label) for c in table.ordered_columns] == list(COLUMNS)
        assert table.row_count == 30
        assert "ch29" in screen_text(app)
