/**
 * Built-in example tools (`tools.sources: [{kind: "example"}]`): enough realistic APIs over ten domains
 * to run a campaign without any tool files. Each description states the tool's purpose in its first
 * sentence, so a scripted agent can match a request to it; several domains hold near-namesakes
 * (get_current_weather / get_weather_forecast, search_flights / book_flight...) as distractors.
 */
import type { McpTool } from "../domain/types.js";

type Schema = Record<string, unknown>;

function tool(name: string, description: string, properties: Record<string, Schema>, required: string[] = []): McpTool {
  return { name, description, inputSchema: { type: "object", properties, required } };
}

const str = (description: string, extra: Schema = {}): Schema => ({ type: "string", description, ...extra });
const int = (description: string, minimum?: number, maximum?: number): Schema => ({
  type: "integer",
  description,
  ...(minimum === undefined ? {} : { minimum }),
  ...(maximum === undefined ? {} : { maximum }),
});
const num = (description: string, extra: Schema = {}): Schema => ({ type: "number", description, ...extra });
const bool = (description: string): Schema => ({ type: "boolean", description });
const oneOf = (description: string, values: string[]): Schema => ({ type: "string", enum: values, description });
const date = (description: string): Schema => ({ type: "string", format: "date", description });
const strings = (description: string, extra: Schema = {}): Schema => ({ type: "array", items: { type: "string" }, description, ...extra });

const location = str('City name with optional country, e.g. "Paris, France"');
const currency = str('ISO 4217 currency code, e.g. "USD"', { pattern: "^[A-Z]{3}$" });

export const EXAMPLE_TOOLS: { domain: string; tool: McpTool }[] = [
  // weather
  {
    domain: "weather",
    tool: tool(
      "get_current_weather",
      "Get the current weather conditions (temperature, humidity, wind) for a location right now.",
      { location, unit: oneOf("Temperature unit", ["celsius", "fahrenheit"]) },
      ["location"],
    ),
  },
  {
    domain: "weather",
    tool: tool(
      "get_weather_forecast",
      "Get the daily weather forecast for a location for the next few days.",
      {
        location,
        days: int("Number of days to forecast", 1, 14),
        unit: oneOf("Temperature unit", ["celsius", "fahrenheit"]),
        include_hourly: bool("Also return hour-by-hour values"),
      },
      ["location", "days"],
    ),
  },
  {
    domain: "weather",
    tool: tool(
      "get_air_quality",
      "Get the air quality index and main pollutants for a location.",
      { location, pollutants: strings('Pollutants to report, e.g. ["pm2_5", "ozone"]; all if omitted') },
      ["location"],
    ),
  },

  // travel
  {
    domain: "travel",
    tool: tool(
      "search_flights",
      "Search available flights between two airports on a date, without booking.",
      {
        origin: str('IATA code of the departure airport, e.g. "SFO"', { pattern: "^[A-Z]{3}$" }),
        destination: str('IATA code of the arrival airport, e.g. "JFK"', { pattern: "^[A-Z]{3}$" }),
        departure_date: date("Departure date"),
        return_date: date("Return date for a round trip"),
        passengers: int("Number of passengers", 1, 9),
        cabin_class: oneOf("Cabin class", ["economy", "premium_economy", "business", "first"]),
        max_stops: int("Maximum number of stops", 0, 3),
      },
      ["origin", "destination", "departure_date"],
    ),
  },
  {
    domain: "travel",
    tool: tool(
      "book_flight",
      "Book a specific flight for a passenger using a flight id returned by a search.",
      {
        flight_id: str("Identifier of the flight offer"),
        passenger: {
          type: "object",
          description: "The traveller",
          properties: { full_name: str("Name as on the passport"), email: str("Contact email", { format: "email" }), date_of_birth: date("Date of birth") },
          required: ["full_name", "email"],
        },
        seat_preference: oneOf("Preferred seat", ["window", "aisle", "middle"]),
      },
      ["flight_id", "passenger"],
    ),
  },
  {
    domain: "travel",
    tool: tool(
      "search_hotels",
      "Search hotels in a city for given check-in and check-out dates.",
      {
        city: str("City to stay in"),
        check_in: date("Check-in date"),
        check_out: date("Check-out date"),
        guests: int("Number of guests", 1, 10),
        max_price_per_night: num("Maximum price per night in USD", { minimum: 0 }),
        amenities: strings('Required amenities, e.g. ["wifi", "pool"]'),
      },
      ["city", "check_in", "check_out"],
    ),
  },
  {
    domain: "travel",
    tool: tool(
      "book_hotel",
      "Book a room at a hotel for given dates.",
      {
        hotel_id: str("Identifier of the hotel"),
        check_in: date("Check-in date"),
        check_out: date("Check-out date"),
        rooms: int("Number of rooms", 1, 5),
        guest_email: str("Email for the confirmation", { format: "email" }),
      },
      ["hotel_id", "check_in", "check_out", "guest_email"],
    ),
  },

  // finance
  {
    domain: "finance",
    tool: tool(
      "get_stock_price",
      "Get the latest trading price of a stock by its ticker symbol.",
      { symbol: str('Ticker symbol, e.g. "AAPL"'), exchange: oneOf("Exchange", ["NASDAQ", "NYSE", "LSE", "TSE"]) },
      ["symbol"],
    ),
  },
  {
    domain: "finance",
    tool: tool(
      "get_stock_history",
      "Get historical daily prices of a stock between two dates.",
      {
        symbol: str('Ticker symbol, e.g. "AAPL"'),
        start_date: date("First day"),
        end_date: date("Last day"),
        interval: oneOf("Bar size", ["1d", "1wk", "1mo"]),
      },
      ["symbol", "start_date", "end_date"],
    ),
  },
  {
    domain: "finance",
    tool: tool(
      "convert_currency",
      "Convert an amount of money from one currency to another at the current exchange rate.",
      { amount: num("Amount to convert", { exclusiveMinimum: 0 }), from_currency: currency, to_currency: currency },
      ["amount", "from_currency", "to_currency"],
    ),
  },
  {
    domain: "finance",
    tool: tool(
      "calculate_loan_payment",
      "Calculate the monthly payment of a fixed-rate loan.",
      {
        principal: num("Loan amount", { exclusiveMinimum: 0 }),
        annual_rate_percent: num("Annual interest rate in percent", { minimum: 0, maximum: 100 }),
        term_months: int("Loan term in months", 1, 480),
      },
      ["principal", "annual_rate_percent", "term_months"],
    ),
  },

  // calendar and email
  {
    domain: "calendar",
    tool: tool(
      "create_calendar_event",
      "Create an event in the user's calendar.",
      {
        title: str("Event title"),
        date: date("Day of the event"),
        start_time: str("Start time as HH:MM (24h)", { pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$" }),
        duration_minutes: int("Duration in minutes", 5, 1440),
        attendees: { type: "array", items: { type: "string", format: "email" }, description: "Attendee email addresses" },
        location: str("Where the event takes place"),
      },
      ["title", "date", "start_time"],
    ),
  },
  {
    domain: "calendar",
    tool: tool(
      "list_calendar_events",
      "List the events in the user's calendar between two dates.",
      { start_date: date("First day"), end_date: date("Last day"), max_results: int("Maximum events to return", 1, 100) },
      ["start_date", "end_date"],
    ),
  },
  {
    domain: "email",
    tool: tool(
      "send_email",
      "Send an email message to one or more recipients.",
      {
        to: { type: "array", items: { type: "string", format: "email" }, minItems: 1, description: "Recipient addresses" },
        subject: str("Subject line"),
        body: str("Plain-text body"),
        cc: { type: "array", items: { type: "string", format: "email" }, description: "Copy recipients" },
      },
      ["to", "subject", "body"],
    ),
  },
  {
    domain: "email",
    tool: tool(
      "search_emails",
      "Search the user's mailbox for emails matching a query.",
      {
        query: str("Words to search for"),
        from: str("Only emails from this sender", { format: "email" }),
        after: date("Only emails received after this day"),
        unread_only: bool("Only unread emails"),
        limit: int("Maximum emails to return", 1, 50),
      },
      ["query"],
    ),
  },

  // e-commerce
  {
    domain: "ecommerce",
    tool: tool(
      "search_products",
      "Search the store catalogue for products matching a query and filters.",
      {
        query: str("What to look for"),
        category: oneOf("Product category", ["electronics", "books", "clothing", "home", "toys", "sports"]),
        filters: {
          type: "object",
          description: "Optional narrowing",
          properties: {
            min_price: num("Lowest price in USD", { minimum: 0 }),
            max_price: num("Highest price in USD", { minimum: 0 }),
            in_stock: bool("Only items in stock"),
            brands: strings("Allowed brands"),
          },
        },
        sort_by: oneOf("Ordering", ["relevance", "price_asc", "price_desc", "rating"]),
      },
      ["query"],
    ),
  },
  {
    domain: "ecommerce",
    tool: tool("get_product_details", "Get the full details, price and stock of one product by its id.", { product_id: str("Product identifier") }, [
      "product_id",
    ]),
  },
  {
    domain: "ecommerce",
    tool: tool(
      "add_to_cart",
      "Add a quantity of a product to the shopping cart.",
      { product_id: str("Product identifier"), quantity: int("How many", 1, 99) },
      ["product_id", "quantity"],
    ),
  },
  {
    domain: "ecommerce",
    tool: tool(
      "track_order",
      "Track the shipping status of an existing order.",
      { order_id: str('Order number, e.g. "ORD-12345"'), email: str("Email used for the order", { format: "email" }) },
      ["order_id"],
    ),
  },

  // maps
  {
    domain: "maps",
    tool: tool(
      "get_directions",
      "Get step-by-step directions and travel time between two places.",
      {
        origin: str("Start address or place"),
        destination: str("End address or place"),
        mode: oneOf("Means of travel", ["driving", "walking", "bicycling", "transit"]),
        avoid_tolls: bool("Avoid toll roads"),
      },
      ["origin", "destination"],
    ),
  },
  {
    domain: "maps",
    tool: tool(
      "find_nearby_places",
      "Find places of a given type near a location, such as restaurants or pharmacies.",
      {
        location,
        place_type: oneOf("Kind of place", ["restaurant", "cafe", "pharmacy", "hospital", "gas_station", "atm", "museum"]),
        radius_meters: int("Search radius in meters", 100, 50000),
        open_now: bool("Only places open now"),
      },
      ["location", "place_type"],
    ),
  },
  {
    domain: "maps",
    tool: tool("geocode_address", "Convert a street address into latitude and longitude coordinates.", { address: str("Full street address") }, ["address"]),
  },

  // devops (GitHub-like)
  {
    domain: "devops",
    tool: tool(
      "create_issue",
      "Create an issue in a code repository.",
      {
        repo: str("Repository as owner/name", { pattern: "^[\\w.-]+/[\\w.-]+$" }),
        title: str("Issue title"),
        body: str("Issue description"),
        labels: strings("Labels to apply"),
        assignees: strings("Usernames to assign"),
      },
      ["repo", "title"],
    ),
  },
  {
    domain: "devops",
    tool: tool(
      "list_pull_requests",
      "List pull requests of a code repository by state.",
      {
        repo: str("Repository as owner/name", { pattern: "^[\\w.-]+/[\\w.-]+$" }),
        state: oneOf("Which pull requests", ["open", "closed", "all"]),
        per_page: int("Results per page", 1, 100),
      },
      ["repo"],
    ),
  },
  {
    domain: "devops",
    tool: tool(
      "trigger_deployment",
      "Trigger a deployment of a service version to an environment.",
      {
        service: str("Service name"),
        version: str("Version or git tag to deploy"),
        environment: oneOf("Target environment", ["staging", "production"]),
        dry_run: bool("Only show what would change"),
      },
      ["service", "version", "environment"],
    ),
  },
  {
    domain: "devops",
    tool: tool(
      "get_service_logs",
      "Get recent log lines of a running service.",
      {
        service: str("Service name"),
        level: oneOf("Minimum level", ["debug", "info", "warn", "error"]),
        since_minutes: int("How far back to look, in minutes", 1, 1440),
        limit: int("Maximum lines", 1, 1000),
      },
      ["service"],
    ),
  },

  // health
  {
    domain: "health",
    tool: tool(
      "calculate_bmi",
      "Calculate the body mass index from weight and height.",
      {
        weight_kg: num("Weight in kilograms", { exclusiveMinimum: 0, maximum: 500 }),
        height_cm: num("Height in centimetres", { exclusiveMinimum: 0, maximum: 300 }),
      },
      ["weight_kg", "height_cm"],
    ),
  },
  {
    domain: "health",
    tool: tool(
      "log_workout",
      "Log a completed workout in the user's fitness diary.",
      {
        activity: oneOf("Kind of workout", ["running", "cycling", "swimming", "walking", "strength", "yoga"]),
        duration_minutes: int("Duration in minutes", 1, 600),
        date: date("Day of the workout"),
        calories: int("Calories burned", 0, 10000),
      },
      ["activity", "duration_minutes"],
    ),
  },
  {
    domain: "health",
    tool: tool(
      "book_doctor_appointment",
      "Book an appointment with a doctor of a given specialty.",
      {
        specialty: oneOf("Medical specialty", ["general", "dermatology", "cardiology", "pediatrics", "dentistry"]),
        preferred_date: date("Preferred day"),
        patient: {
          type: "object",
          description: "Who the appointment is for",
          properties: { name: str("Patient name"), age: int("Patient age in years", 0, 130) },
          required: ["name"],
        },
        telehealth: bool("Video appointment instead of in person"),
      },
      ["specialty", "preferred_date", "patient"],
    ),
  },

  // math and units
  {
    domain: "math",
    tool: tool(
      "convert_units",
      "Convert a value between units of length, mass or temperature.",
      {
        value: num("The quantity to convert"),
        from_unit: oneOf("Unit of the value", ["m", "km", "mi", "ft", "kg", "lb", "celsius", "fahrenheit"]),
        to_unit: oneOf("Unit wanted", ["m", "km", "mi", "ft", "kg", "lb", "celsius", "fahrenheit"]),
      },
      ["value", "from_unit", "to_unit"],
    ),
  },
  {
    domain: "math",
    tool: tool(
      "evaluate_expression",
      "Evaluate an arithmetic expression and return the numeric result.",
      { expression: str('Expression such as "(3 + 4) * 2"'), precision: int("Decimal places in the result", 0, 15) },
      ["expression"],
    ),
  },
  {
    domain: "math",
    tool: tool(
      "compute_statistics",
      "Compute summary statistics (mean, median, standard deviation) of a list of numbers.",
      {
        numbers: { type: "array", items: { type: "number" }, minItems: 1, description: "The data" },
        statistics: {
          type: "array",
          items: { type: "string", enum: ["mean", "median", "stdev", "min", "max"] },
          description: "Which statistics; all if omitted",
        },
      },
      ["numbers"],
    ),
  },

  // media
  {
    domain: "media",
    tool: tool(
      "search_movies",
      "Search movies by title, genre or release year.",
      {
        query: str("Title words"),
        genre: oneOf("Genre", ["action", "comedy", "drama", "horror", "sci_fi", "animation", "documentary"]),
        year: int("Release year", 1900, 2100),
        min_rating: num("Minimum average rating", { minimum: 0, maximum: 10 }),
      },
      ["query"],
    ),
  },
  {
    domain: "media",
    tool: tool(
      "get_movie_showtimes",
      "Get cinema showtimes for a movie in a city on a date.",
      { movie_title: str("Movie title"), city: str("City"), date: date("Day of the showing") },
      ["movie_title", "city"],
    ),
  },
  {
    domain: "media",
    tool: tool(
      "play_music",
      "Play a song, album or playlist on the user's speaker.",
      {
        query: str("Song, artist, album or playlist name"),
        source: oneOf("What the query names", ["song", "album", "artist", "playlist"]),
        shuffle: bool("Shuffle the tracks"),
        volume: int("Volume in percent", 0, 100),
      },
      ["query"],
    ),
  },
];
