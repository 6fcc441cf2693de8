// Draws bench/results.md's charts as PNG files with ScottPlot, from a JSON file the benchmark
// writes: { "charts": [ { "kind": "bars", "file", "title", "unit", "labels": [...],
// "series": [ { "name", "values": [...] } ] }, { "kind": "lines", "file", "title", "unit",
// "x": [...], "series": [...] } ] }. Usage: Charts <spec.json> <output folder>.
using System.Text.Json;
using ScottPlot;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Charts <spec.json> <output folder>");
    return 2;
}
using var spec = JsonDocument.Parse(File.ReadAllText(args[0]));
Directory.CreateDirectory(args[1]);
foreach (var chart in spec.RootElement.GetProperty("charts").EnumerateArray())
{
    var plot = new Plot();
    plot.Title(chart.GetProperty("title").GetString());
    plot.Axes.Left.Label.Text = chart.GetProperty("unit").GetString() ?? "";
    var series = chart.GetProperty("series").EnumerateArray().ToList();
    var palette = new ScottPlot.Palettes.Category10();
    if (chart.GetProperty("kind").GetString() == "bars")
    {
        // Grouped bars: one group per label, one bar per series, each value written above its bar.
        var labels = chart.GetProperty("labels").EnumerateArray().Select(l => l.GetString() ?? "").ToArray();
        var ticks = new List<Tick>();
        for (var g = 0; g < labels.Length; g++)
        {
            ticks.Add(new Tick(g * (series.Count + 1) + (series.Count - 1) / 2.0, labels[g]));
            for (var s = 0; s < series.Count; s++)
            {
                var value = series[s].GetProperty("values")[g].GetDouble();
                var bar = plot.Add.Bar(position: g * (series.Count + 1) + s, value: value);
                bar.Color = palette.GetColor(s);
                bar.Bars[0].Label = value >= 100 ? value.ToString("0") : value.ToString("0.##");
            }
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Margins(bottom: 0, top: 0.2);
        for (var s = 0; s < series.Count; s++)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s].GetProperty("name").GetString() ?? "", FillColor = palette.GetColor(s) });
    }
    else
    {
        // Lines against x (the number of VMs), on a logarithmic x axis when x spans a wide range.
        var x = chart.GetProperty("x").EnumerateArray().Select(v => Math.Log10(v.GetDouble())).ToArray();
        for (var s = 0; s < series.Count; s++)
        {
            var ys = series[s].GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var line = plot.Add.Scatter(x, ys);
            line.LegendText = series[s].GetProperty("name").GetString() ?? "";
            line.Color = palette.GetColor(s);
            line.MarkerSize = 8;
        }
        var xTicks = chart.GetProperty("x").EnumerateArray().Select(v => new Tick(Math.Log10(v.GetDouble()), v.GetDouble().ToString("0"))).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(xTicks);
        plot.Axes.Bottom.Label.Text = "VMs defined (log scale)";
        var top = series.SelectMany(s => s.GetProperty("values").EnumerateArray().Select(v => v.GetDouble())).DefaultIfEmpty(1).Max();
        plot.Axes.SetLimitsY(0, top * 1.25);
    }
    plot.ShowLegend(Alignment.UpperRight);
    var file = Path.Combine(args[1], chart.GetProperty("file").GetString()!);
    plot.SavePng(file, 720, 400);
    Console.WriteLine(file);
}
return 0;
