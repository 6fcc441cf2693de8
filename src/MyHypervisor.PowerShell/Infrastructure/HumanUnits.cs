using System.Globalization;

namespace MyHypervisor.PowerShell.Infrastructure;

/// <summary>Human units for the format views (MyHypervisor.Format.ps1xml calls these).</summary>
public static class HumanUnits
{
    private static readonly string[] Units = { "B", "KiB", "MiB", "GiB", "TiB" };

    public static string Bytes(long bytes)
    {
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < Units.Length - 1) { value /= 1024; unit++; }
        return unit == 0 ? $"{bytes} B" : value.ToString(value < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " " + Units[unit];
    }

    public static string Duration(TimeSpan? span)
    {
        if (span is not { } s) return string.Empty;
        if (s.TotalDays >= 1) return $"{(int)s.TotalDays}d {s.Hours}h {s.Minutes}m";
        if (s.TotalHours >= 1) return $"{(int)s.TotalHours}h {s.Minutes}m";
        if (s.TotalMinutes >= 1) return $"{(int)s.TotalMinutes}m {s.Seconds}s";
        return $"{s.TotalSeconds:0}s";
    }
}
