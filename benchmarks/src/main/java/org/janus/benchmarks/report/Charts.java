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
     * A logarithmic axis when the values span more than two orders of magnitude.
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
        for (List<Double> v : series.values())
            for (double d : v) {
                if (d > 0) min = Math.min(min, d);
                max = Math.max(max, d);
            }
        boolean log = max > 0 && min < Double.MAX_VALUE && max / min > 100;
        chart.getStyler().setYAxisLogarithmic(log);
        for (Map.Entry<String, List<Double>> e : series.entrySet()) {
            // A log axis cannot show zero: such a bar is drawn at the axis floor.
            List<Double> values = e.getValue().stream().map(d -> log && d <= 0 ? null : d).toList();
            chart.addSeries(e.getKey(), categories, values);
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        String name = file.toString();
        BitmapEncoder.saveBitmap(chart, name.endsWith(".png") ? name.substring(0, name.length() - 4) : name,
                BitmapEncoder.BitmapFormat.PNG);
    }
}
