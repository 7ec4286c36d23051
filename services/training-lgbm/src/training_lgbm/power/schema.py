"""The UCI "Individual household electric power consumption" file format."""

DATE_COLUMN = "Date"
TIME_COLUMN = "Time"
MEASUREMENT_COLUMNS = (
    "Global_active_power",
    "Global_reactive_power",
    "Voltage",
    "Global_intensity",
    "Sub_metering_1",
    "Sub_metering_2",
    "Sub_metering_3",
)
COLUMNS = (DATE_COLUMN, TIME_COLUMN, *MEASUREMENT_COLUMNS)
HEADER = ";".join(COLUMNS)
SEPARATOR = ";"
MISSING = "?"
DATE_FORMAT = "%d/%m/%Y"
TIME_FORMAT = "%H:%M:%S"
# Quantities that cannot be negative on a household meter.
NON_NEGATIVE = ("Global_active_power", "Global_reactive_power", "Voltage", "Global_intensity")
TARGET = "Global_active_power"
DEFAULT_FILENAME = "household_power_consumption.txt"
