"""Open a run's QGIS outputs in Debian's QGIS and report what QGIS sees (for tests/test_qgis.py).

Run by the SYSTEM Python (``/usr/bin/python3``: ``python3-qgis`` is built for it, not for the
project's venv), headless (``QT_QPA_PLATFORM=offscreen``)::

    /usr/bin/python3 tests/qgis_probe.py RUN_DIR IMAGE_DIR > report.json

It opens ``RUN_DIR/planning.qgz``; for every layer it reports validity, name, data source and
the renderer QGIS built from the project (type, categories with value and label, colour-ramp
items, palette size, label field) and renders that layer alone over the project's extent to
``IMAGE_DIR/<layer id>.png``; it renders the whole project to ``IMAGE_DIR/project.png``. Then
it loads each ``planning.gpkg`` layer and each GeoTIFF alone, as a user dragging the file into
QGIS would (default style: the GeoPackage's ``layer_styles``, the ``.qml`` beside the
GeoTIFF), and reports and renders them the same way (``IMAGE_DIR/alone_<name>.png``). The
report is one JSON document on stdout; pixels are judged by the test, not here.

Imports nothing from lomsong (it runs outside the venv).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

IMAGE_PX = (1000, 700)


def describe(layer) -> dict:
    """What QGIS made of a layer: validity, name, source and its renderer."""
    out = {"id": layer.id(), "name": layer.name(), "valid": layer.isValid(),
           "source": layer.source(), "spatial": layer.isSpatial(),
           "kind": "vector" if isinstance(layer, QgsVectorLayer) else "raster"}  # fmt: skip
    if isinstance(layer, QgsVectorLayer):
        out["features"] = layer.featureCount()
    renderer = layer.renderer()
    if renderer is None:
        out["renderer"] = None
        return out
    info: dict = {"type": renderer.type()}
    if isinstance(layer, QgsVectorLayer):
        if info["type"] == "categorizedSymbol":
            info["attr"] = renderer.classAttribute()
            info["categories"] = [
                {"value": str(c.value()), "label": c.label(),
                 "color": c.symbol().color().name(), "layers": [
                     sl.layerType() for sl in c.symbol().symbolLayers()]}
                for c in renderer.categories()
            ]  # fmt: skip
        elif info["type"] == "singleSymbol":
            sym = renderer.symbol()
            info["symbol"] = {"color": sym.color().name(),
                              "layers": [sl.layerType() for sl in sym.symbolLayers()]}  # fmt: skip
        labeling = layer.labeling() if layer.labelsEnabled() else None
        info["label_field"] = labeling.settings().fieldName if labeling is not None else None
    else:
        if info["type"] == "singlebandpseudocolor":
            fn = renderer.shader().rasterShaderFunction()
            info["ramp"] = fn.colorRampTypeAsQString()
            info["items"] = [{"value": i.value, "label": i.label, "color": i.color.name(),
                              "alpha": i.color.alpha()}
                             for i in fn.colorRampItemList()]  # fmt: skip
            info["nodata_color"] = (renderer.nodataColor().name()
                                    if renderer.nodataColor().isValid() else None)  # fmt: skip
        elif info["type"] == "paletted":
            info["classes"] = [{"value": c.value, "label": c.label, "color": c.color.name()}
                               for c in renderer.classes()]  # fmt: skip
    out["renderer"] = info
    return out


def render(layers, extent: QgsRectangle, crs, path: Path) -> None:
    """Draw ``layers`` (top first) over ``extent`` on white, labels included, to a PNG."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(crs)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(*IMAGE_PX))
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setFlag(QgsMapSettings.DrawLabeling, True)
    settings.setFlag(QgsMapSettings.Antialiasing, True)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(str(path), "PNG")


def main(run_dir: Path, images: Path) -> dict:
    images.mkdir(parents=True, exist_ok=True)
    project = QgsProject.instance()
    report: dict = {"read": project.read(str(run_dir / "planning.qgz"))}
    crs = project.crs()
    report["crs"] = crs.authid()
    report["title"] = project.title()
    report["absolute_paths"] = project.readBoolEntry("Paths", "/Absolute")[0]
    view = project.viewSettings().defaultViewExtent()
    report["view"] = [view.xMinimum(), view.yMinimum(), view.xMaximum(), view.yMaximum()]
    root = project.layerTreeRoot()
    # every layer of the tree, top first (layerOrder() would leave out a table without
    # geometry, such as the rejected rows)
    order = [node.layer() for node in root.findLayers()]
    spatial = [layer for layer in order if layer.isSpatial()]
    extent = QgsRectangle()
    for layer in spatial:
        extent.combineExtentWith(layer.extent())
    report["extent"] = [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(),
                        extent.yMaximum()]  # fmt: skip
    report["layers"] = []
    for layer in order:
        info = describe(layer)
        info["checked"] = root.findLayer(layer.id()).isVisible()
        render([layer], extent, crs, images / f"{layer.id()}.png")
        report["layers"].append(info)
    render([lyr for lyr in spatial if root.findLayer(lyr.id()).isVisible()], extent, crs,
           images / "project.png")  # fmt: skip
    # single files, as dragged into QGIS: the default style comes with them
    report["alone"] = []
    gpkg = run_dir / "planning.gpkg"
    for layer in order:
        if isinstance(layer, QgsVectorLayer):
            name = layer.source().rpartition("layername=")[2].split("|")[0]
            alone = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
        else:
            name = Path(layer.source()).stem
            alone = QgsRasterLayer(str(run_dir / f"{name}.tif"), name)
        info = describe(alone)
        info["file"] = name
        render([alone], extent, crs, images / f"alone_{name}.png")
        report["alone"].append(info)
    return report


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    try:
        result = main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
    finally:
        QgsProject.instance().clear()
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    app.exitQgis()
