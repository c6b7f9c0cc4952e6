using System.Globalization;

namespace Sealpost.Testing;

/// <summary>Free loopback ports by the scripts' one rule (<c>free_port</c> in scripts/lib.sh), never the same one twice in a run.</summary>
public static class Ports
{
    private static readonly HashSet<int> Given = [];

    public static int Free()
    {
        for (var i = 0; i < 20; i++)
        {
            var port = int.Parse(ScriptLib.Run("free_port"), CultureInfo.InvariantCulture);
            lock (Given)
            {
                if (Given.Add(port)) return port;
            }
        }
        throw new InvalidOperationException("free_port kept giving ports already handed out");
    }
}
