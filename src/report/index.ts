// Pictures for reports: loss curves and attention maps as standalone, dependency-free SVG.
export { lineChart, type LineChartSpec, type LineSeries } from './line-chart.js';
export { heatmapGrid, heatmapLayout, visibleToken, type HeatmapGridSpec, type AttentionMap, type HeatmapLayout } from './heatmap.js';
export { SERIES_COLORS, SEQUENTIAL_STOPS, sequentialColor } from './palette.js';
export { escapeXml } from './svg.js';
