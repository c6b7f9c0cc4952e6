namespace Sealpost.System.Tests;

/// <summary>A test that runs only when SEALPOST_RUN_QUARANTINED=1: a known, open bug makes it fail at random.</summary>
public sealed class QuarantinedFactAttribute : FactAttribute
{
    public QuarantinedFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("SEALPOST_RUN_QUARANTINED") != "1")
            Skip = "quarantined: fails at random on an open bug (see the comment above the test); SEALPOST_RUN_QUARANTINED=1 runs it";
    }
}
