using System.ComponentModel.DataAnnotations;

namespace Sealpost.ServiceDefaults;

/// <summary>The service's own PostgreSQL database (section <c>Database</c>).</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    [Required]
    public string ConnectionString { get; set; } = "";

    /// <summary>Create the database at start-up when missing (development); production grants no CREATEDB.</summary>
    public bool CreateIfMissing { get; set; } = true;
}
