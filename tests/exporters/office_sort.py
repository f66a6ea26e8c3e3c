"""Run by the system Python (``python3-uno``), not by pytest: start a headless LibreOffice,
open a workbook, sort a range of one sheet by one column (XSortable, as Data > Sort does)
on the sheet as exported, protection and all, and save it as xlsx.

Arguments: soffice, -env:UserInstallation=..., source, target, sheet, column (0-based),
rows (below the header), columns.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.table import TableSortField  # type: ignore[import-not-found]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _property(name: str, value: object) -> PropertyValue:
    item = PropertyValue()
    item.Name, item.Value = name, value
    return item


def main() -> None:
    soffice, profile, source, target, sheet_name, column, rows, columns = sys.argv[1:]
    port = _free_port()
    office = subprocess.Popen(
        [soffice, profile, "--headless", "--norestore", "--nologo", "--nodefault",
         f"--accept=socket,host=127.0.0.1,port={port};urp;"],
    )  # fmt: skip
    desktop = None
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                context = resolver.resolve(
                    f"uno:socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext"
                )
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        desktop = context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context
        )
        document = desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(source), "_blank", 0, (_property("Hidden", True),)
        )
        sheet = document.Sheets.getByName(sheet_name)
        print("protected:", sheet.isProtected())
        cells = sheet.getCellRangeByPosition(0, 1, int(columns) - 1, int(rows))
        field = TableSortField()
        field.Field, field.IsAscending = int(column), True
        descriptor = cells.createSortDescriptor()
        for item in descriptor:
            if item.Name == "SortFields":
                item.Value = uno.Any("[]com.sun.star.table.TableSortField", (field,))
            elif item.Name == "ContainsHeader":
                item.Value = False
        cells.sort(descriptor)
        document.calculateAll()
        document.storeToURL(
            uno.systemPathToFileUrl(target), (_property("FilterName", "Calc MS Excel 2007 XML"),)
        )
        document.close(True)
        print("sorted")
    finally:
        if desktop is not None:
            with contextlib.suppress(Exception):  # the office is stopped below in any case
                desktop.terminate()
        office.terminate()
        try:
            office.wait(20)
        except subprocess.TimeoutExpired:
            office.kill()


if __name__ == "__main__":
    main()
