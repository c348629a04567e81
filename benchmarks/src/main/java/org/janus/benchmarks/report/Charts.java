package org.janus.benchmarks.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** PNG charts for the report, drawn with XChart (headless). */
public final class Charts {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {}

    /**
     * A grouped bar chart: one group per category, one bar per series (series name → one value per category).
     * A linear axis (the tables beside each chart carry the exact figures).
     */
    public static void bars(Path file, String title, String yTitle, List<String> categories, Map<String, List<Double>> series)
            throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(900).height(420).title(title).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        chart.getStyler().setPlotGridVerticalLinesVisible(false);
        if (categories.size() > 5 || categories.stream().mapToInt(String::length).sum() > 60) chart.getStyler().setXAxisLabelRotation(25);
        double min = Double.MAX_VALUE, max = 0;
        boolean zero = false;
        for (List<Double> v : series.values())
            for (Double d : v) {
                if (d == null || d <= 0) zero = true;
                else min = Math.min(min, d);
                if (d != null) max = Math.max(max, d);
            }
        // XChart's bars start at zero, which a logarithmic axis cannot show: the axis stays linear, and the tables have the figures.
        if (zero || max / min > 100) chart.getStyler().setYAxisDecimalPattern("#,##0.##");
        for (Map.Entry<String, List<Double>> e : series.entrySet()) chart.addSeries(e.getKey(), categories, e.getValue());
        Files.createDirectories(file.toAbsolutePath().getParent());
        String name = file.toString();
        BitmapEncoder.saveBitmap(chart, name.endsWith(".png") ? name.substring(0, name.length() - 4) : name,
                BitmapEncoder.BitmapFormat.PNG);
    }
}
